package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.policy.runtime.Admission;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;

/** Which requests the door takes, by path and headers (the door's answers: {@link OverloadTest}). */
class DoorFilterTest {

    @Test
    void theDoorTakesARoutesInferPathOnly() {
        assertThat(DoorFilter.route("/v2/models/digits/infer")).isEqualTo("digits");
        assertThat(DoorFilter.route("/v2/models/digits-split/infer")).isEqualTo("digits-split");
        assertThat(DoorFilter.route("/v2/models/digits/versions/1/infer")).as("routes have no versions").isNull();
        assertThat(DoorFilter.route("/v2/models//infer")).isNull();
        assertThat(DoorFilter.route("/v2/models/infer")).isNull();
        assertThat(DoorFilter.route("/v2/models/digits")).isNull();
        assertThat(DoorFilter.route("/v2/health/ready")).isNull();
    }

    @Test
    void edgeAgentsEscalationsHaveTheirOwnLane() {
        HttpHeaders headers = new HttpHeaders();
        assertThat(Admission.Lane.of(headers::getFirst)).isEqualTo(Admission.Lane.CLIENT);
        headers.set("Hybridge-Escalation", "TRUE");
        assertThat(Admission.Lane.of(headers::getFirst)).isEqualTo(Admission.Lane.ESCALATION);
        headers.set("Hybridge-Escalation", "no");
        assertThat(Admission.Lane.of(headers::getFirst)).isEqualTo(Admission.Lane.CLIENT);
    }
}
