package dev.hybridge.oip;

import java.util.Locale;

/**
 * The tensor element types of the Open Inference Protocol, with their size on the wire in
 * the binary tensor extension (little-endian; BYTES elements are length-prefixed).
 */
public enum Datatype {
    BOOL(1, boolean[].class),
    UINT8(1, byte[].class),
    UINT16(2, short[].class),
    UINT32(4, int[].class),
    UINT64(8, long[].class),
    INT8(1, byte[].class),
    INT16(2, short[].class),
    INT32(4, int[].class),
    INT64(8, long[].class),
    /** IEEE 754 half precision, held as its 16 raw bits. */
    FP16(2, short[].class),
    /** bfloat16, held as its 16 raw bits. */
    BF16(2, short[].class),
    FP32(4, float[].class),
    FP64(8, double[].class),
    /** Byte strings of any length (ONNX string tensors). */
    BYTES(-1, byte[][].class);

    private final int byteSize;
    private final Class<?> arrayType;

    Datatype(int byteSize, Class<?> arrayType) {
        this.byteSize = byteSize;
        this.arrayType = arrayType;
    }

    /** Size of one element in the binary encoding, or -1 for BYTES (variable). */
    public int byteSize() {
        return byteSize;
    }

    /** The Java array type that holds this datatype's elements. */
    public Class<?> arrayType() {
        return arrayType;
    }

    public boolean isUnsigned() {
        return this == UINT8 || this == UINT16 || this == UINT32 || this == UINT64;
    }

    public boolean isInteger() {
        return switch (this) {
            case UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64 -> true;
            default -> false;
        };
    }

    public boolean isFloatingPoint() {
        return this == FP16 || this == BF16 || this == FP32 || this == FP64;
    }

    /** Parses a wire name such as {@code "FP32"}; the match is exact, as the protocol requires. */
    public static Datatype fromWire(String name) {
        if (name == null) {
            throw OipException.badRequest("datatype is missing");
        }
        try {
            return valueOf(name);
        } catch (IllegalArgumentException e) {
            String hint = "";
            try {
                valueOf(name.toUpperCase(Locale.ROOT));
                hint = " (datatype names are upper case)";
            } catch (IllegalArgumentException ignored) {
                // not a case problem
            }
            throw OipException.badRequest("unknown datatype '" + name + "'" + hint
                    + "; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES");
        }
    }
}
