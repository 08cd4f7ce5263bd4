package dev.hybridge.policy.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.hybridge.policy.Tier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The admission rules, on a clock moved by hand. */
class AdmissionTest {

    long now = 1_000_000_000L;

    Admission admission(int initial, int min, int max, double escalationShare) {
        return new Admission(new Admission.Settings(true, initial, min, max, 1.5, escalationShare, Duration.ofMillis(100),
                Duration.ofSeconds(1)), () -> now);
    }

    /**
     * {@code ticks} rounds of {@code concurrent} calls entering together and all ending
     * {@code rttMillis} later; returns how many were let in.
     */
    int traffic(Admission.Gate gate, int ticks, int concurrent, long rttMillis) {
        int admitted = 0;
        for (int t = 0; t < ticks; t++) {
            List<Admission.Permit> permits = new ArrayList<>();
            for (int i = 0; i < concurrent; i++) {
                Admission.Permit p = gate.enter(Admission.Lane.CLIENT);
                if (p != null) {
                    permits.add(p);
                }
            }
            admitted += permits.size();
            now += rttMillis * 1_000_000;
            permits.forEach(Admission.Permit::done);
        }
        return admitted;
    }

    @Test
    void theLimitGrowsWhileRoundTripsHoldAndShrinksWhenTheyGrow() {
        Admission.Gate gate = admission(20, 4, 200, 0.25).door();
        assertThat(gate.limit()).isEqualTo(20);
        traffic(gate, 600, 40, 10);
        int grown = gate.limit();
        assertThat(grown).as("steady round trips with the limit in use: it grows").isGreaterThan(30);
        traffic(gate, 600, 40, 40); // queues form: four times the round trip
        int shrunk = gate.limit();
        assertThat(shrunk).as("longer round trips: it shrinks").isLessThan(grown / 2).isGreaterThanOrEqualTo(4);
        traffic(gate, 1200, 40, 10);
        assertThat(gate.limit()).as("round trips back to normal: it grows again").isGreaterThan(shrunk);
    }

    @Test
    void aGateThatIsNotInUseDoesNotGrow() {
        Admission.Gate gate = admission(20, 4, 200, 0.25).door();
        traffic(gate, 600, 5, 10);
        assertThat(gate.limit()).isEqualTo(20);
    }

    @Test
    void theLimitStaysWithinItsFloorAndCeiling() {
        Admission.Gate gate = admission(20, 16, 24, 0.25).door();
        traffic(gate, 600, 40, 10);
        assertThat(gate.limit()).isEqualTo(24);
        traffic(gate, 60, 40, 200);
        assertThat(gate.limit()).isEqualTo(16);
    }

    /**
     * {@code ticks} rounds of {@code concurrent} requests through {@code door} and then
     * {@code inner}: a request the inner gate refuses is dropped 1 ms later (its body read and
     * refused), the others take {@code rttMillis}.
     */
    void trafficBehind(Admission.Gate door, Admission.Gate inner, int ticks, int concurrent, long rttMillis) {
        for (int t = 0; t < ticks; t++) {
            List<Admission.Permit> doors = new ArrayList<>();
            List<Admission.Permit> inners = new ArrayList<>();
            List<Admission.Permit> refusedInside = new ArrayList<>();
            for (int i = 0; i < concurrent; i++) {
                Admission.Permit d = door.enter(Admission.Lane.CLIENT);
                if (d == null) {
                    continue;
                }
                Admission.Permit in = inner.enter(Admission.Lane.CLIENT);
                if (in == null) {
                    refusedInside.add(d);
                } else {
                    doors.add(d);
                    inners.add(in);
                }
            }
            now += 1_000_000;
            refusedInside.forEach(Admission.Permit::dropped);
            now += (rttMillis - 1) * 1_000_000;
            inners.forEach(Admission.Permit::done);
            doors.forEach(Admission.Permit::done);
        }
    }

    @Test
    void aDoorInFrontOfAFullerGateSettlesAtWhatThatGateAdmits() {
        Admission.Gate door = admission(20, 4, 200, 0.25).door();
        Admission.Gate inner = admission(32, 32, 32, 0.25).tier(Tier.EDGE); // a tier gate fixed at 32
        trafficBehind(door, inner, 100, 200, 10);
        long doorBefore = door.refused(Admission.Lane.CLIENT);
        long innerBefore = inner.refused(Admission.Lane.CLIENT);
        int highest = 0;
        for (int round = 0; round < 10; round++) {
            trafficBehind(door, inner, 50, 200, 10);
            highest = Math.max(highest, door.limit());
        }
        assertThat(highest).as("the door's limit stays near the inner gate's (32)").isBetween(28, 40);
        long atDoor = door.refused(Admission.Lane.CLIENT) - doorBefore;
        long inside = inner.refused(Admission.Lane.CLIENT) - innerBefore;
        assertThat(atDoor).as("nearly every refusal happens at the door, before any work").isGreaterThan(50 * inside);
    }

    @Test
    void aDoorWhoseRequestsAreNotRefusedFurtherOnGrowsPastTheFloor() {
        Admission.Gate door = admission(20, 4, 200, 0.25).door();
        Admission.Gate inner = admission(200, 200, 200, 0.25).tier(Tier.EDGE);
        trafficBehind(door, inner, 600, 100, 10);
        assertThat(door.limit()).isGreaterThan(60);
        assertThat(inner.refused(Admission.Lane.CLIENT)).isZero();
    }

    @Test
    void overTheLimitWorkIsRefusedAtOnceAndCountedByLane() {
        Admission.Gate gate = admission(4, 4, 4, 0.25).tier(Tier.CLOUD);
        List<Admission.Permit> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(gate.enter(Admission.Lane.CLIENT));
        }
        assertThat(held).doesNotContainNull();
        assertThat(gate.inFlight()).isEqualTo(4);
        assertThat(gate.enter(Admission.Lane.CLIENT)).isNull();
        assertThat(gate.refused(Admission.Lane.CLIENT)).isEqualTo(1);
        assertThat(gate.refused(Admission.Lane.ESCALATION)).isZero();
        held.remove(0).ignore();
        assertThat(gate.inFlight()).isEqualTo(3);
        assertThat(gate.enter(Admission.Lane.CLIENT)).as("a place given back is taken again").isNotNull();
    }

    @Test
    void aFloodOfClientsCannotStarveEscalationsNorTheReverse() {
        Admission.Gate gate = admission(8, 8, 8, 0.25).door();
        List<Admission.Permit> clients = new ArrayList<>();
        Admission.Permit p;
        while ((p = gate.enter(Admission.Lane.CLIENT)) != null) {
            clients.add(p);
        }
        assertThat(clients).hasSize(8); // below the limit a lane may take all of it
        // full, and the clients hold more than their share: escalations still get theirs (a quarter of 8)
        assertThat(gate.enter(Admission.Lane.ESCALATION)).isNotNull();
        assertThat(gate.enter(Admission.Lane.ESCALATION)).isNotNull();
        assertThat(gate.enter(Admission.Lane.ESCALATION)).isNull();
        assertThat(gate.enter(Admission.Lane.CLIENT)).isNull();

        Admission.Gate other = admission(8, 8, 8, 0.25).door();
        List<Admission.Permit> escalations = new ArrayList<>();
        while ((p = other.enter(Admission.Lane.ESCALATION)) != null) {
            escalations.add(p);
        }
        assertThat(escalations).hasSize(8);
        for (int i = 0; i < 6; i++) {
            assertThat(other.enter(Admission.Lane.CLIENT)).as("clients keep three quarters").isNotNull();
        }
        assertThat(other.enter(Admission.Lane.CLIENT)).isNull();
    }

    @Test
    void switchedOffEveryRequestIsLetThrough() {
        Admission none = Admission.none();
        for (int i = 0; i < 10_000; i++) {
            assertThat(none.door().enter(Admission.Lane.CLIENT)).isNotNull();
        }
        assertThat(none.door().enabled()).isFalse();
        assertThat(none.door().limit()).isZero();
        assertThat(none.gates()).extracting(Admission.Gate::name).containsExactly("door", "edge", "cloud");
    }

    @Test
    void settingsThatMakeNoSenseAreRefusedWithTheirNames() {
        assertThatThrownBy(() -> new Admission.Settings(true, 2, 4, 8, 1.5, 0.25, Duration.ofMillis(100),
                Duration.ofSeconds(1))).hasMessageContaining("min-limit <= initial-limit");
        assertThatThrownBy(() -> new Admission.Settings(true, 4, 4, 8, 0.9, 0.25, Duration.ofMillis(100),
                Duration.ofSeconds(1))).hasMessageContaining("rtt-tolerance");
        assertThatThrownBy(() -> new Admission.Settings(true, 4, 4, 8, 1.5, 1.5, Duration.ofMillis(100),
                Duration.ofSeconds(1))).hasMessageContaining("escalation-share");
        assertThatThrownBy(() -> new Admission.Settings(true, 4, 4, 8, 1.5, 0.25, Duration.ZERO,
                Duration.ofSeconds(1))).hasMessageContaining("window");
        assertThatThrownBy(() -> new Admission.Settings(true, 4, 4, 8, 1.5, 0.25, Duration.ofMillis(100),
                Duration.ofMillis(10))).hasMessageContaining("retry-after");
    }
}
