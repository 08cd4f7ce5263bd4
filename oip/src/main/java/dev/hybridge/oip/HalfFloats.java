package dev.hybridge.oip;

/** Conversions between float and the 16-bit formats FP16 (IEEE half) and BF16, rounding to nearest even. */
public final class HalfFloats {

    private HalfFloats() {
    }

    public static float fp16ToFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
        }
        if (exponent == 0) {
            if (mantissa == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal half: value = mantissa * 2^-24
            float value = mantissa * 0x1p-24f;
            return sign == 0 ? value : -value;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    public static short floatToFp16(float value) {
        int f = Float.floatToRawIntBits(value);
        int sign = (f >>> 16) & 0x8000;
        int abs = f & 0x7FFFFFFF;
        if (abs >= 0x7F800000) { // Inf or NaN
            return (short) (sign | 0x7C00 | (abs > 0x7F800000 ? 0x200 | ((abs >>> 13) & 0x3FF) : 0));
        }
        if (abs >= 0x477FF000) { // rounds to beyond the largest half (65504): infinity
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x38800000) { // below the smallest normal half: subnormal or zero
            if (abs < 0x33000000) { // below half of the smallest subnormal
                return (short) sign;
            }
            int exponent = abs >>> 23;
            int mantissa = (abs & 0x7FFFFF) | 0x800000;
            int shift = 126 - exponent; // 14 - (exponent - 127) + 13 - 1 ... aligns to 2^-24 units
            int halfMantissa = mantissa >>> shift;
            int remainder = mantissa & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (remainder > halfway || (remainder == halfway && (halfMantissa & 1) != 0)) {
                halfMantissa++;
            }
            return (short) (sign | halfMantissa);
        }
        int rounded = abs + 0xFFF + ((abs >>> 13) & 1); // round to nearest even on the 13 dropped bits
        return (short) (sign | ((rounded - 0x38000000) >>> 13));
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    public static short floatToBf16(float value) {
        int f = Float.floatToRawIntBits(value);
        if ((f & 0x7FFFFFFF) > 0x7F800000) { // NaN: keep it a quiet NaN
            return (short) ((f >>> 16) | 0x40);
        }
        int rounded = f + 0x7FFF + ((f >>> 16) & 1);
        return (short) (rounded >>> 16);
    }
}
