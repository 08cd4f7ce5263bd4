package dev.hybridge.oip;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import tools.jackson.core.io.NumberInput;

/**
 * Reads a JSON {@code data} array of numbers straight from its bytes into the primitive array
 * of an FP32, FP64 or integer tensor, several times faster than a token-by-token parse.
 *
 * <p>It takes only the common, valid case: numbers in JSON syntax, each in range for the
 * datatype, in arrays nested no deeper than the caller allowed. For anything else
 * ({@code "NaN"}, booleans, a number out of range, a decimal for an integer datatype, broken
 * syntax) {@link #read} returns {@code null} and the codec parses the same bytes the usual way,
 * which produces the usual error. So this class never decides what is an error; it only finds
 * the right values faster.
 *
 * <p>Values are exactly those of the JSON parser's own conversion: decimals with at most 18
 * significant digits and a power of ten within 10^±22 are converted with one correctly rounded
 * double operation (exact operands, one rounding); an FP32 value taken from that double is only
 * kept when the double is not a tie between two floats (the one case where rounding twice can
 * differ from rounding once). Everything else goes through the parser's converter.
 *
 * <p>The array's last byte is its closing bracket, which is no digit, sign, point or exponent
 * letter, so the digit loops stop on it and need no bounds checks of their own.
 */
final class FastNumbers {

    private static final double[] POWERS_OF_TEN = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    };
    private static final long MAX_EXACT_MANTISSA = 1L << 53;
    private static final int MAX_DIGITS = 18;
    private static final VarHandle EIGHT_BYTES = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);

    private static final int VALUE_OR_CLOSE = 0;
    private static final int VALUE = 1;
    private static final int COMMA_OR_CLOSE = 2;

    private FastNumbers() {
    }

    /**
     * The numbers of one data array, as doubles, with what is needed to turn them into any
     * numeric datatype's array exactly as the usual parse would.
     */
    static final class Parsed {
        private final double[] values;
        private final int size;
        private final int end;
        private final OipCodec.NestingProfile nesting;
        private final boolean floatsExact;
        private final boolean integersExact;

        private Parsed(double[] values, int size, int end, OipCodec.NestingProfile nesting, boolean floatsExact,
                       boolean integersExact) {
            this.values = values;
            this.size = size;
            this.end = end;
            this.nesting = nesting;
            this.floatsExact = floatsExact;
            this.integersExact = integersExact;
        }

        /** Just after the array's closing bracket. */
        int end() {
            return end;
        }

        /** The lengths of the nested arrays, to check against the tensor's shape. */
        OipCodec.NestingProfile nesting() {
            return nesting;
        }

        /**
         * The data as the array of {@code datatype}, or {@code null} when the usual parse must
         * decide (another datatype, a value out of its range, a decimal for an integer type).
         */
        Object toArray(Datatype datatype) {
            switch (datatype) {
                case FP64 -> {
                    return Arrays.copyOf(values, size);
                }
                case FP32 -> {
                    if (!floatsExact) {
                        return null;
                    }
                    float[] out = new float[size];
                    for (int i = 0; i < size; i++) {
                        out[i] = (float) values[i];
                    }
                    return out;
                }
                case INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 -> {
                    if (!integersExact) {
                        return null;
                    }
                    long min = ElementSink.minOf(datatype);
                    long max = ElementSink.maxOf(datatype);
                    long[] out = new long[size];
                    for (int i = 0; i < size; i++) {
                        long value = (long) values[i];
                        if (value < min || value > max) {
                            return null;
                        }
                        out[i] = value;
                    }
                    return ElementSink.narrow(out, size, datatype);
                }
                default -> {
                    return null;
                }
            }
        }
    }

    /**
     * Reads the array that opens at {@code bytes[start]}.
     *
     * @param last          the index of a byte after the array that is no part of a number (the
     *                      message's closing brace), which bounds every digit loop
     * @param maxInnerDepth the deepest nesting taken
     * @return the numbers, or {@code null} when the array holds anything else, is not valid
     *         JSON, nests too deep or is ragged (the usual parse then says what is wrong)
     */
    static Parsed parse(byte[] bytes, int start, int last, int maxInnerDepth) {
        double[] values = new double[Math.max(16, Math.min(last - start, 1 << 20) / 8)];
        int size = 0;
        boolean floatsExact = true;
        boolean integersExact = true;
        // eight-digit reads must stay inside the array
        int lastEightByteRead = bytes.length - 8;
        OipCodec.NestingProfile nesting = new OipCodec.NestingProfile();

        int[] counts = new int[4];
        boolean[] sawArray = new boolean[4];
        boolean[] sawValue = new boolean[4];
        int level = -1;
        int state = VALUE;
        int pos = start;
        while (pos < last) {
            byte c = bytes[pos];
            if (c == ',') {
                if (state != COMMA_OR_CLOSE) {
                    return null;
                }
                state = VALUE;
                pos++;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                if (state == COMMA_OR_CLOSE || level < 0) {
                    return null;
                }
                // ---- one number: [-] int [. digits] [e [+-] digits]
                int numberStart = pos;
                boolean negative = c == '-';
                if (negative) {
                    pos++;
                }
                long mantissa = 0;
                int exponent = 0;
                int digits = 0;
                boolean integral = true;
                boolean tooLong = false;
                int d = bytes[pos] - '0';
                if (d == 0) {
                    pos++;
                } else if (d > 0 && d <= 9) {
                    do {
                        if (digits < MAX_DIGITS) {
                            mantissa = mantissa * 10 + d;
                            digits++;
                        } else {
                            tooLong = true;
                        }
                        d = bytes[++pos] - '0';
                    } while (d >= 0 && d <= 9);
                } else {
                    return null;
                }
                if (bytes[pos] == '.') {
                    integral = false;
                    int fractionStart = ++pos;
                    if (mantissa == 0) {
                        while (bytes[pos] == '0') {
                            pos++; // leading zeros are no significant digits
                        }
                        exponent -= pos - fractionStart;
                    }
                    if (pos <= lastEightByteRead && digits + 8 <= MAX_DIGITS) {
                        long eight = (long) EIGHT_BYTES.get(bytes, pos);
                        if (isEightDigits(eight)) {
                            mantissa = mantissa * 100_000_000L + eightDigits(eight);
                            digits += 8;
                            exponent -= 8;
                            pos += 8;
                        }
                    }
                    while ((d = bytes[pos] - '0') >= 0 && d <= 9) {
                        if (digits < MAX_DIGITS) {
                            mantissa = mantissa * 10 + d;
                            digits++;
                            exponent--;
                        } else {
                            tooLong = true;
                        }
                        pos++;
                    }
                    if (pos == fractionStart) {
                        return null;
                    }
                }
                c = bytes[pos];
                if (c == 'e' || c == 'E') {
                    integral = false;
                    c = bytes[++pos];
                    boolean negativeExponent = c == '-';
                    if (c == '-' || c == '+') {
                        pos++;
                    }
                    int exponentStart = pos;
                    int value = 0;
                    while ((d = bytes[pos] - '0') >= 0 && d <= 9) {
                        if (value < 10_000) {
                            value = value * 10 + d;
                        } else {
                            tooLong = true;
                        }
                        pos++;
                    }
                    if (pos == exponentStart) {
                        return null;
                    }
                    exponent += negativeExponent ? -value : value;
                }
                // ---- its value
                double value;
                if (!tooLong && mantissa == 0) {
                    value = negative && !integral ? -0.0 : 0.0; // "-0" is the integer 0
                } else if (!tooLong && mantissa <= MAX_EXACT_MANTISSA && exponent >= -22 && exponent <= 22) {
                    value = exponent < 0 ? mantissa / POWERS_OF_TEN[-exponent] : mantissa * POWERS_OF_TEN[exponent];
                    if (negative) {
                        value = -value;
                    }
                    if (floatsExact) {
                        // the 29 bits a float drops; exactly half is a tie, where rounding twice can go wrong
                        double magnitude = Math.abs(value);
                        floatsExact = (Double.doubleToRawLongBits(value) & 0x1FFF_FFFFL) != 0x1000_0000L
                                && magnitude >= Float.MIN_NORMAL && magnitude <= Float.MAX_VALUE;
                    }
                } else {
                    value = NumberInput.parseDouble(text(bytes, numberStart, pos), true);
                    if (Double.isInfinite(value)) {
                        return null;
                    }
                    floatsExact = false; // a float must then be converted from the text, not from this double
                }
                integersExact &= integral && !tooLong && mantissa <= MAX_EXACT_MANTISSA;
                if (size == values.length) {
                    values = Arrays.copyOf(values, size * 2);
                }
                values[size++] = value;
                counts[level]++;
                sawValue[level] = true;
                state = COMMA_OR_CLOSE;
            } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                pos++;
            } else if (c == '[') {
                if (state == COMMA_OR_CLOSE || level + 1 >= maxInnerDepth) {
                    return null;
                }
                if (level >= 0) {
                    counts[level]++;
                    sawArray[level] = true;
                }
                level++;
                if (level == counts.length) {
                    counts = Arrays.copyOf(counts, level * 2);
                    sawArray = Arrays.copyOf(sawArray, level * 2);
                    sawValue = Arrays.copyOf(sawValue, level * 2);
                }
                counts[level] = 0;
                sawArray[level] = false;
                sawValue[level] = false;
                state = VALUE_OR_CLOSE;
                pos++;
            } else if (c == ']') {
                if (state == VALUE || level < 0) {
                    return null; // a trailing comma, or a stray bracket
                }
                try {
                    nesting.record("", level, counts[level], sawArray[level], sawValue[level]);
                } catch (OipException ragged) {
                    return null;
                }
                level--;
                pos++;
                if (level < 0) {
                    return new Parsed(values, size, pos, nesting, floatsExact, integersExact);
                }
                state = COMMA_OR_CLOSE;
            } else {
                return null;
            }
        }
        return null;
    }

    /**
     * Finds the end of the array that opens at {@code bytes[start]} without reading its numbers:
     * only brackets are followed; an array holding strings or objects, or nested too deep, is not
     * taken ({@code null}). The result has no values.
     */
    static Parsed skip(byte[] bytes, int start, int last, int maxInnerDepth) {
        int depth = 0;
        for (int pos = start; pos < last; pos++) {
            // eight bytes at a time past runs of numbers, commas and spaces (most of the array)
            while (pos + 8 <= last && !mayHoldStructure((long) EIGHT_BYTES.get(bytes, pos))) {
                pos += 8;
            }
            if (pos >= last) {
                break;
            }
            byte c = bytes[pos];
            if (c == '[') {
                if (++depth > maxInnerDepth) {
                    return null;
                }
            } else if (c == ']') {
                if (--depth == 0) {
                    return new Parsed(new double[0], 0, pos + 1, new OipCodec.NestingProfile(), false, false);
                }
            } else if (c == '"' || c == '{' || c == '}') {
                return null;
            }
        }
        return null;
    }

    /**
     * Whether any of eight bytes may be a bracket, a brace or a quote: false means none is. Brackets
     * and braces ({@code [ ] { }}) are the bytes equal to 0x59 once bits 1, 2 and 5 are cleared (so
     * are {@code Y _ y DEL}, which only send a block the slow way).
     */
    private static boolean mayHoldStructure(long eight) {
        return hasByte(eight & 0xD9D9_D9D9_D9D9_D9D9L, 0x5959_5959_5959_5959L)
                || hasByte(eight, 0x2222_2222_2222_2222L);
    }

    /** Whether a byte of {@code eight} equals the byte repeated in {@code repeated}. */
    private static boolean hasByte(long eight, long repeated) {
        long x = eight ^ repeated;
        return ((x - 0x0101_0101_0101_0101L) & ~x & 0x8080_8080_8080_8080L) != 0;
    }

    /** Whether all eight bytes (little-endian) are ASCII digits. */
    private static boolean isEightDigits(long eight) {
        return ((eight & 0xF0F0_F0F0_F0F0_F0F0L) | (((eight + 0x0606_0606_0606_0606L) & 0xF0F0_F0F0_F0F0_F0F0L) >>> 4))
                == 0x3333_3333_3333_3333L;
    }

    /** The value of eight ASCII digits read little-endian (the first digit in the lowest byte). */
    private static long eightDigits(long eight) {
        long value = eight - 0x3030_3030_3030_3030L;
        value = value * 10 + (value >>> 8); // pairs
        value = ((value & 0x0000_00FF_0000_00FFL) * (100 + (1_000_000L << 32))
                + ((value >>> 16) & 0x0000_00FF_0000_00FFL) * (1 + (10_000L << 32))) >>> 32;
        return value;
    }

    private static String text(byte[] bytes, int start, int end) {
        return new String(bytes, start, end - start, StandardCharsets.ISO_8859_1);
    }
}
