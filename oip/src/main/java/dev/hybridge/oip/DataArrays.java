package dev.hybridge.oip;

import java.util.Arrays;

/**
 * The tensors' {@code data} arrays of one JSON message, cut out so that the JSON parser never
 * tokenizes them.
 *
 * <p>One second of 8 kHz audio is 8000 numbers; tokenizing them one by one costs far more than
 * the rest of the message. {@link #locate} walks the message once, byte by byte, and finds each
 * {@code data} array of an object inside the top-level tensor list ({@code "inputs"} or
 * {@code "outputs"}) and reads it with {@link FastNumbers} on the way. The arrays it could read
 * (valid JSON, only numbers, not too deep) are cut: the parser reads {@link #parsed()}, a copy
 * of the message in which they are empty ({@code []}), and the codec takes their numbers from
 * here (or, for a datatype or value the numbers do not fit, parses the original bytes of that
 * one array the usual way, which gives the usual errors).
 *
 * <p>The walk only has to be right for well-formed JSON: on anything it does not understand it
 * gives up, nothing is cut, and the parser reports the problem in the original message.
 */
final class DataArrays {

    private static final byte[] DATA_KEY = {'d', 'a', 't', 'a'};

    private final byte[] original;
    private final byte[] parsed;
    private final int parsedLength;
    /** Where each cut array's '[' sits in {@link #parsed}, ascending. */
    private final int[] parsedOffsets;
    /** Each cut array in the original: start at '[' and end just after ']'. */
    private final int[] starts;
    private final int[] ends;
    private final FastNumbers.Parsed[] numbers;
    private final int count;

    private DataArrays(byte[] original, byte[] parsed, int parsedLength, int[] parsedOffsets, int[] starts,
                       int[] ends, FastNumbers.Parsed[] numbers, int count) {
        this.original = original;
        this.parsed = parsed;
        this.parsedLength = parsedLength;
        this.parsedOffsets = parsedOffsets;
        this.starts = starts;
        this.ends = ends;
        this.numbers = numbers;
        this.count = count;
    }

    /** The bytes the JSON parser reads: the message, with the cut arrays emptied. */
    byte[] parsed() {
        return parsed;
    }

    /** How many bytes of {@link #parsed()} hold the JSON part. */
    int parsedLength() {
        return parsedLength;
    }

    byte[] original() {
        return original;
    }

    /** The index of the cut array whose '[' sits at {@code parsedOffset}, or -1. */
    int cutAt(int parsedOffset) {
        int i = Arrays.binarySearch(parsedOffsets, 0, count, parsedOffset);
        return i >= 0 ? i : -1;
    }

    int start(int cut) {
        return starts[cut];
    }

    int end(int cut) {
        return ends[cut];
    }

    FastNumbers.Parsed numbers(int cut) {
        return numbers[cut];
    }

    /**
     * Finds the data arrays of the tensors listed under {@code tensorsField} in the JSON message
     * {@code body[0, jsonEnd)}.
     *
     * @param maxInnerDepth the deepest nesting inside a data array that may be cut; deeper arrays
     *                      stay for the parser, whose nesting limit then applies as usual
     * @param readNumbers   whether to read the numbers of the arrays cut; without, arrays of numbers
     *                      are only found and skipped (for a decode that ignores data)
     */
    static DataArrays locate(byte[] body, int jsonEnd, String tensorsField, int maxInnerDepth, boolean readNumbers) {
        byte[] field = tensorsField.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        int[] starts = new int[4];
        int[] ends = new int[4];
        FastNumbers.Parsed[] numbers = new FastNumbers.Parsed[4];
        int count = 0;
        // a message ends with its closing brace, which also stops every digit loop of the number reader
        int last = jsonEnd - 1;
        while (last > 0 && (body[last] == ' ' || body[last] == '\n' || body[last] == '\r' || body[last] == '\t')) {
            last--;
        }
        if (last <= 0 || body[last] != '}') {
            return none(body, jsonEnd);
        }
        // depth 1: the message object; 2: the tensor list; 3: a tensor object
        int depth = 0;
        boolean inTensorList = false; // the array at depth 2 is the tensor list
        boolean expectKey = false;    // inside an object, before a key
        int keyStart = -1;            // the last key read in the current object at depth 1 or 3
        int keyEnd = -1;
        // containers deeper than 3 are only counted; objects and arrays below depth 3 are tracked
        boolean[] isObject = new boolean[4];
        int pos = 0;
        while (pos < jsonEnd) {
            byte c = body[pos];
            switch (c) {
                case ' ', '\t', '\n', '\r', ',' -> {
                    if (c == ',' && depth > 0 && depth < isObject.length && isObject[depth]) {
                        expectKey = true;
                    }
                    pos++;
                }
                case ':' -> {
                    expectKey = false;
                    pos++;
                }
                case '"' -> {
                    int close = endOfString(body, pos, jsonEnd);
                    if (close < 0) {
                        return none(body, jsonEnd);
                    }
                    if (expectKey && (depth == 1 || depth == 3)) {
                        keyStart = pos + 1;
                        keyEnd = close;
                    }
                    pos = close + 1;
                }
                case '{', '[' -> {
                    boolean object = c == '{';
                    if (!object && depth == 3 && inTensorList && isObject[3]
                            && isKey(body, keyStart, keyEnd, DATA_KEY)) {
                        FastNumbers.Parsed read = readNumbers ? FastNumbers.parse(body, pos, last, maxInnerDepth)
                                : FastNumbers.skip(body, pos, last, maxInnerDepth);
                        if (read != null) {
                            if (count == starts.length) {
                                starts = Arrays.copyOf(starts, count * 2);
                                ends = Arrays.copyOf(ends, count * 2);
                                numbers = Arrays.copyOf(numbers, count * 2);
                            }
                            starts[count] = pos;
                            ends[count] = read.end();
                            numbers[count] = read;
                            count++;
                            pos = read.end();
                            keyStart = -1;
                            continue;
                        }
                    }
                    if (depth == 1 && !object) {
                        inTensorList = isKey(body, keyStart, keyEnd, field);
                    }
                    depth++;
                    if (depth < isObject.length) {
                        isObject[depth] = object;
                    }
                    expectKey = object;
                    if (depth == 3 || depth == 1) {
                        keyStart = -1;
                    }
                    pos++;
                }
                case '}', ']' -> {
                    if (depth == 0) {
                        return none(body, jsonEnd);
                    }
                    depth--;
                    if (depth == 1) {
                        inTensorList = false;
                    }
                    expectKey = false;
                    pos++;
                }
                default -> pos++; // numbers and literals outside data arrays
            }
        }
        if (count == 0) {
            return none(body, jsonEnd);
        }
        int cutBytes = 0;
        for (int i = 0; i < count; i++) {
            cutBytes += ends[i] - starts[i] - 2;
        }
        byte[] parsed = new byte[jsonEnd - cutBytes];
        int[] parsedOffsets = new int[count];
        int from = 0;
        int to = 0;
        for (int i = 0; i < count; i++) {
            int keep = starts[i] + 1 - from; // up to and including '['
            System.arraycopy(body, from, parsed, to, keep);
            to += keep;
            parsedOffsets[i] = to - 1;
            parsed[to++] = ']';
            from = ends[i];
        }
        System.arraycopy(body, from, parsed, to, jsonEnd - from);
        return new DataArrays(body, parsed, parsed.length, parsedOffsets, starts, ends, numbers, count);
    }

    /** A message with nothing cut: the parser reads the original. */
    static DataArrays none(byte[] body, int jsonEnd) {
        return new DataArrays(body, body, jsonEnd, new int[0], new int[0], new int[0], new FastNumbers.Parsed[0], 0);
    }

    private static boolean isKey(byte[] body, int start, int end, byte[] key) {
        if (start < 0 || end - start != key.length) {
            return false;
        }
        for (int i = 0; i < key.length; i++) {
            if (body[start + i] != key[i]) {
                return false;
            }
        }
        return true;
    }

    /** The index of the quote closing the string that opens at {@code pos}, or -1. */
    private static int endOfString(byte[] body, int pos, int end) {
        for (int i = pos + 1; i < end; i++) {
            byte b = body[i];
            if (b == '"') {
                return i;
            }
            if (b == '\\') {
                i++;
            }
        }
        return -1;
    }
}
