package dev.hybridge.oip;

import static dev.hybridge.oip.HalfFloats.bf16ToFloat;
import static dev.hybridge.oip.HalfFloats.floatToBf16;
import static dev.hybridge.oip.HalfFloats.floatToFp16;
import static dev.hybridge.oip.HalfFloats.fp16ToFloat;
import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HalfFloatsTest {

    private static final int FP16_MAX_FINITE = 0x7BFF; // 65504
    private static final int BF16_MAX_FINITE = 0x7F7F;

    // --------------------------------------------------------------------- reference values

    /** The value of an FP16 bit pattern, computed from the IEEE 754 definition. */
    private static double fp16Value(int h) {
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        double magnitude;
        if (exponent == 0x1F) {
            magnitude = mantissa == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (exponent == 0) {
            magnitude = mantissa * 0x1p-24;
        } else {
            magnitude = Math.scalb((double) (1024 + mantissa), exponent - 25);
        }
        return (h & 0x8000) != 0 ? -magnitude : magnitude;
    }

    private static boolean isFp16NaN(int h) {
        return (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    }

    private static boolean isBf16NaN(int h) {
        return (h & 0x7F80) == 0x7F80 && (h & 0x7F) != 0;
    }

    /**
     * The FP16 pattern nearest to {@code f}, ties to the even pattern, by exact decimal arithmetic
     * over the table of every finite half; beyond 65504 only values from 65520 on become infinity.
     */
    private static int nearestFp16(float f, double[] positiveHalves) {
        int sign = Float.floatToRawIntBits(f) < 0 ? 0x8000 : 0;
        double a = Math.abs((double) f);
        if (a >= 65520) {
            return sign | 0x7C00;
        }
        int i = Arrays.binarySearch(positiveHalves, a);
        if (i >= 0) {
            return sign | i;
        }
        int hi = -i - 1;
        int lo = hi - 1;
        if (hi > FP16_MAX_FINITE) {
            return sign | FP16_MAX_FINITE;
        }
        return sign | nearer(a, lo, positiveHalves[lo], hi, positiveHalves[hi]);
    }

    private static int nearer(double a, int lo, double loValue, int hi, double hiValue) {
        BigDecimal x = new BigDecimal(a);
        int cmp = x.subtract(new BigDecimal(loValue)).compareTo(new BigDecimal(hiValue).subtract(x));
        if (cmp != 0) {
            return cmp < 0 ? lo : hi;
        }
        return (lo & 1) == 0 ? lo : hi;
    }

    private static double[] positiveFiniteHalves() {
        double[] values = new double[FP16_MAX_FINITE + 1];
        for (int h = 0; h <= FP16_MAX_FINITE; h++) {
            values[h] = fp16Value(h);
        }
        return values;
    }

    private static String hex(int bits) {
        return String.format("0x%04X", bits & 0xFFFF);
    }

    // --------------------------------------------------------------------------------- FP16

    @Test
    void everyFp16PatternDecodesToItsIeeeValue() {
        for (int h = 0; h < 0x10000; h++) {
            float f = fp16ToFloat((short) h);
            double expected = fp16Value(h);
            if (Double.isNaN(expected)) {
                assertThat(Float.isNaN(f)).as(hex(h)).isTrue();
            } else {
                assertThat(Float.floatToRawIntBits(f)).as(hex(h) + " -> " + f + " expected " + expected)
                        .isEqualTo(Float.floatToRawIntBits((float) expected));
            }
        }
    }

    @Test
    void everyFp16PatternRoundTripsExactly() {
        int nanCount = 0;
        for (int h = 0; h < 0x10000; h++) {
            short back = floatToFp16(fp16ToFloat((short) h));
            if (isFp16NaN(h)) {
                nanCount++;
                assertThat(isFp16NaN(back)).as(hex(h) + " stays NaN").isTrue();
                assertThat(back & 0x8000).as(hex(h) + " keeps its sign").isEqualTo(h & 0x8000);
            } else {
                assertThat(back & 0xFFFF).as(hex(h)).isEqualTo(h);
            }
        }
        assertThat(nanCount).isEqualTo(2 * 1023);
    }

    @Test
    void knownFp16Values() {
        assertThat(fp16ToFloat((short) 0x3C00)).isEqualTo(1f);
        assertThat(fp16ToFloat((short) 0xC000)).isEqualTo(-2f);
        assertThat(fp16ToFloat((short) 0x7BFF)).isEqualTo(65504f);
        assertThat(fp16ToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(fp16ToFloat((short) 0x03FF)).isEqualTo(1023 * 0x1p-24f);
        assertThat(fp16ToFloat((short) 0x0400)).isEqualTo(0x1p-14f);
        assertThat(fp16ToFloat((short) 0x3555)).isEqualTo(0.333251953125f);
        assertThat(fp16ToFloat((short) 0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(fp16ToFloat((short) 0xFC00)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(Float.floatToRawIntBits(fp16ToFloat((short) 0x8000))).isEqualTo(Float.floatToRawIntBits(-0f));
        assertThat(fp16ToFloat((short) 0x7E00)).isNaN();

        assertThat(floatToFp16(1f)).isEqualTo((short) 0x3C00);
        assertThat(floatToFp16(-2f)).isEqualTo((short) 0xC000);
        assertThat(floatToFp16(0.1f)).isEqualTo((short) 0x2E66);
        assertThat(floatToFp16(65504f)).isEqualTo((short) 0x7BFF);
        assertThat(floatToFp16(0f)).isEqualTo((short) 0x0000);
        assertThat(floatToFp16(-0f)).isEqualTo((short) 0x8000);
    }

    @Test
    void valuesHalfwayBetweenTwoHalvesRoundToTheEvenOne() {
        // 1 + 2^-11 lies between 1 (0x3C00, even) and 1 + 2^-10 (0x3C01)
        assertThat(floatToFp16(1f + 0x1p-11f)).isEqualTo((short) 0x3C00);
        assertThat(floatToFp16(Math.nextUp(1f + 0x1p-11f))).isEqualTo((short) 0x3C01);
        // 1 + 3 * 2^-11 lies between 0x3C01 and 0x3C02 (even)
        assertThat(floatToFp16(1f + 3 * 0x1p-11f)).isEqualTo((short) 0x3C02);
        assertThat(floatToFp16(Math.nextDown(1f + 3 * 0x1p-11f))).isEqualTo((short) 0x3C01);
        // just below 1: 1 - 2^-12 lies between 0x3BFF (odd) and 0x3C00: the carry reaches the exponent
        assertThat(floatToFp16(1f - 0x1p-12f)).isEqualTo((short) 0x3C00);
        // between the largest subnormal 0x03FF and the smallest normal 0x0400
        assertThat(floatToFp16(1023.5f * 0x1p-24f)).isEqualTo((short) 0x0400);
        // among subnormals: 3 * 2^-25 lies between 0x0001 and 0x0002 (even), 5 * 2^-25 between 0x0002 and 0x0003
        assertThat(floatToFp16(3 * 0x1p-25f)).isEqualTo((short) 0x0002);
        assertThat(floatToFp16(5 * 0x1p-25f)).isEqualTo((short) 0x0002);
        assertThat(floatToFp16(-5 * 0x1p-25f)).isEqualTo((short) 0x8002);
        // 2^-25 lies between 0 (even) and the smallest subnormal
        assertThat(floatToFp16(0x1p-25f)).isEqualTo((short) 0x0000);
        assertThat(floatToFp16(Math.nextUp(0x1p-25f))).isEqualTo((short) 0x0001);
        // 65520 lies between 65504 (0x7BFF, odd) and 65536, which is past the largest half: infinity
        assertThat(floatToFp16(65520f)).isEqualTo((short) 0x7C00);
        assertThat(floatToFp16(Math.nextDown(65520f))).isEqualTo((short) 0x7BFF);
        assertThat(floatToFp16(-65520f)).isEqualTo((short) 0xFC00);
    }

    @Test
    void everyMidpointBetweenAdjacentHalvesRoundsToNearestEven() {
        for (int sign : new int[] {0, 0x8000}) {
            for (int h = 0; h < FP16_MAX_FINITE; h++) {
                double lo = fp16Value(h);
                double hi = fp16Value(h + 1);
                float mid = (float) ((lo + hi) / 2);
                assertThat((double) mid).as("midpoint after " + hex(h) + " is a float").isEqualTo((lo + hi) / 2);
                float signedMid = sign == 0 ? mid : -mid;
                int even = (h & 1) == 0 ? h : h + 1;
                assertThat(floatToFp16(signedMid) & 0xFFFF).as("midpoint " + signedMid).isEqualTo(sign | even);
                float above = sign == 0 ? Math.nextUp(mid) : -Math.nextUp(mid);
                float below = sign == 0 ? Math.nextDown(mid) : -Math.nextDown(mid);
                assertThat(floatToFp16(above) & 0xFFFF).as("just above midpoint " + signedMid).isEqualTo(sign | (h + 1));
                assertThat(floatToFp16(below) & 0xFFFF).as("just below midpoint " + signedMid).isEqualTo(sign | h);
            }
        }
    }

    @Test
    void randomFloatsRoundToTheNearestHalf() {
        double[] halves = positiveFiniteHalves();
        SplittableRandom random = new SplittableRandom(20240611L);
        for (int i = 0; i < 200_000; i++) {
            // exponents from far below the subnormal halves to beyond the largest half
            int exponent = 95 + random.nextInt(55);
            int bits = (random.nextBoolean() ? 0x80000000 : 0) | (exponent << 23) | random.nextInt(1 << 23);
            float f = Float.intBitsToFloat(bits);
            assertThat(floatToFp16(f) & 0xFFFF).as("%s (0x%08X)", f, bits).isEqualTo(nearestFp16(f, halves));
        }
    }

    @Test
    void overflowBecomesInfinityAndUnderflowBecomesZero() {
        assertThat(floatToFp16(70000f)).isEqualTo((short) 0x7C00);
        assertThat(floatToFp16(Float.MAX_VALUE)).isEqualTo((short) 0x7C00);
        assertThat(floatToFp16(-Float.MAX_VALUE)).isEqualTo((short) 0xFC00);
        assertThat(floatToFp16(Float.POSITIVE_INFINITY)).isEqualTo((short) 0x7C00);
        assertThat(floatToFp16(Float.NEGATIVE_INFINITY)).isEqualTo((short) 0xFC00);
        assertThat(floatToFp16(Float.MIN_VALUE)).isEqualTo((short) 0x0000);
        assertThat(floatToFp16(-Float.MIN_VALUE)).isEqualTo((short) 0x8000);
        assertThat(floatToFp16(0x1p-26f)).isEqualTo((short) 0x0000);
        assertThat(floatToFp16(Float.MIN_NORMAL)).isEqualTo((short) 0x0000);
    }

    @Test
    void nanStaysNanWithItsSign() {
        for (int bits : new int[] {0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0xFFC00000, 0xFF800001}) {
            short h = floatToFp16(Float.intBitsToFloat(bits));
            assertThat(isFp16NaN(h)).as("0x%08X", bits).isTrue();
            assertThat(h & 0x8000).as("sign of 0x%08X", bits).isEqualTo(bits < 0 ? 0x8000 : 0);
        }
    }

    // --------------------------------------------------------------------------------- BF16

    @Test
    void everyBf16PatternRoundTripsExactly() {
        for (int h = 0; h < 0x10000; h++) {
            float f = bf16ToFloat((short) h);
            assertThat(Float.floatToRawIntBits(f)).as(hex(h)).isEqualTo(h << 16);
            short back = floatToBf16(f);
            if (isBf16NaN(h)) {
                assertThat(isBf16NaN(back)).as(hex(h) + " stays NaN").isTrue();
                assertThat(back & 0x8000).isEqualTo(h & 0x8000);
            } else {
                assertThat(back & 0xFFFF).as(hex(h)).isEqualTo(h);
            }
        }
    }

    @Test
    void bf16RoundsHalfwayToEven() {
        assertThat(floatToBf16(1f)).isEqualTo((short) 0x3F80);
        // 1 + 2^-8 lies between 1 (0x3F80, even) and 1 + 2^-7 (0x3F81)
        assertThat(floatToBf16(1f + 0x1p-8f)).isEqualTo((short) 0x3F80);
        assertThat(floatToBf16(Math.nextUp(1f + 0x1p-8f))).isEqualTo((short) 0x3F81);
        // 1 + 3 * 2^-8 lies between 0x3F81 and 0x3F82 (even)
        assertThat(floatToBf16(1f + 3 * 0x1p-8f)).isEqualTo((short) 0x3F82);
        assertThat(floatToBf16(Math.nextDown(1f + 3 * 0x1p-8f))).isEqualTo((short) 0x3F81);
        assertThat(floatToBf16(0.1f)).isEqualTo((short) 0x3DCD);
        assertThat(floatToBf16(-0f)).isEqualTo((short) 0x8000);
        // rounding past the largest finite bf16 gives infinity, as in IEEE arithmetic
        assertThat(floatToBf16(Float.MAX_VALUE)).isEqualTo((short) 0x7F80);
        assertThat(floatToBf16(-Float.MAX_VALUE)).isEqualTo((short) 0xFF80);
        assertThat(floatToBf16(Float.intBitsToFloat(0x7F7F7FFF))).isEqualTo((short) 0x7F7F);
        assertThat(floatToBf16(Float.POSITIVE_INFINITY)).isEqualTo((short) 0x7F80);
        // tiny values: subnormal floats round like any other
        assertThat(floatToBf16(Float.MIN_VALUE)).isEqualTo((short) 0x0000);
        assertThat(floatToBf16(Float.intBitsToFloat(0x00008000))).isEqualTo((short) 0x0000);
        assertThat(floatToBf16(Float.intBitsToFloat(0x00018000))).isEqualTo((short) 0x0002);
    }

    @Test
    void everyBf16MidpointRoundsToNearestEven() {
        for (int sign : new int[] {0, 0x8000}) {
            for (int h = 0; h < BF16_MAX_FINITE; h++) {
                float mid = Float.intBitsToFloat((sign | h) << 16 | 0x8000);
                int even = (h & 1) == 0 ? h : h + 1;
                assertThat(floatToBf16(mid) & 0xFFFF).as("midpoint after " + hex(h)).isEqualTo(sign | even);
                assertThat(floatToBf16(sign == 0 ? Math.nextUp(mid) : -Math.nextUp(-mid)) & 0xFFFF)
                        .as("above midpoint after " + hex(h)).isEqualTo(sign | (h + 1));
                assertThat(floatToBf16(sign == 0 ? Math.nextDown(mid) : -Math.nextDown(-mid)) & 0xFFFF)
                        .as("below midpoint after " + hex(h)).isEqualTo(sign | h);
            }
        }
    }

    @Test
    void randomFloatsRoundToTheNearestBf16() {
        SplittableRandom random = new SplittableRandom(7L);
        for (int i = 0; i < 200_000; i++) {
            int bits = random.nextInt() & 0x7F7FFFFF; // finite, positive, below the top binade's edge
            float f = Float.intBitsToFloat(bits);
            int lo = bits >>> 16;
            // above the largest finite bf16, IEEE rounding measures against 2^128 (where infinity starts)
            double hiValue = lo == BF16_MAX_FINITE ? 0x1p128 : bf16ToFloat((short) (lo + 1));
            int expected = nearer(f, lo, bf16ToFloat((short) lo), lo + 1, hiValue);
            assertThat(floatToBf16(f) & 0xFFFF).as("0x%08X", bits).isEqualTo(expected);
            assertThat(floatToBf16(-f) & 0xFFFF).as("-0x%08X", bits).isEqualTo(0x8000 | expected);
        }
    }

    @Test
    void bf16NanStaysAQuietNan() {
        for (int bits : new int[] {0x7FC00000, 0x7F800001, 0x7F80FFFF, 0xFF800001}) {
            short h = floatToBf16(Float.intBitsToFloat(bits));
            assertThat(isBf16NaN(h)).as("0x%08X", bits).isTrue();
            assertThat(h & 0x0040).as("quiet bit of 0x%08X", bits).isEqualTo(0x0040);
            assertThat(h & 0x8000).isEqualTo(bits < 0 ? 0x8000 : 0);
        }
    }
}
