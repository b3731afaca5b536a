"""Which eavesdrop key whispers to the agent, measured on a real FreeSWITCH 1.10 (skipped unless
CALLCENTER_TEST_FREESWITCH names its binary).

An agent's phone and a carrier are bridged (agent leg A, customer leg B); a supervisor's phone
eavesdrops on A with eavesdrop_enable_dtmf=true. The agent and the carrier send silence, the
supervisor sends a loud tone; each phone measures the audio FreeSWITCH sends it. After each
`uuid_recv_dtmf <supervisor leg> <key>`, the phone that starts hearing the tone is the one the
key speaks to. Hanging the supervisor's leg up leaves A and B bridged.
"""

from __future__ import annotations

import math
import socket
import threading
import time
import uuid

import pytest

from tests.freeswitch.sipudp import UdpSip, media_address
from tests.freeswitch.test_real_freeswitch import esl, lab  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def _ulaw(sample: int) -> int:
    """G.711 mu-law of a 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), 32635) + 0x84
    exponent = max(0, sample.bit_length() - 8)
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _linear(byte: int) -> int:
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    sample = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -sample if sign else sample


SILENCE = bytes([0xFF]) * 160
TONE = bytes(_ulaw(int(12000 * math.sin(2 * math.pi * 1000 * n / 8000))) for n in range(160))


class Media:
    """A phone's RTP: sends `payload` every 20 ms to FreeSWITCH and keeps the loudness (mean
    absolute sample) of what it receives, per packet, with the time."""

    def __init__(self, rtp: socket.socket, to: tuple[str, int], payload: bytes) -> None:
        self.rtp, self.to, self.payload = rtp, to, payload
        self.heard: list[tuple[float, float]] = []
        self.stopped = False
        self.rtp.settimeout(0.02)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        seq, stamp, ssrc = 0, 0, uuid.uuid4().int & 0xFFFFFFFF
        next_send = time.monotonic()
        while not self.stopped:
            if time.monotonic() >= next_send:
                header = bytes([0x80, 0]) + seq.to_bytes(2, "big") + stamp.to_bytes(4, "big") \
                    + ssrc.to_bytes(4, "big")
                try:
                    self.rtp.sendto(header + self.payload, self.to)
                except OSError:
                    return
                seq, stamp, next_send = (seq + 1) & 0xFFFF, stamp + 160, next_send + 0.02
            try:
                packet = self.rtp.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(packet) > 12 and packet[1] & 0x7F == 0:
                body = packet[12:]
                self.heard.append((time.monotonic(), sum(abs(_linear(b)) for b in body)
                                   / len(body)))

    def loudness(self, since: float) -> float:
        """The median loudness heard since `since`."""
        values = sorted(level for at, level in self.heard if at >= since)
        return values[len(values) // 2] if values else 0.0


def _answered(phone: UdpSip, payload: bytes) -> Media:
    dialog = phone.next_invite()
    dialog.respond(200, sdp=True)
    return Media(phone.rtp, media_address(dialog.invite.body), payload)


def test_key_2_whispers_to_the_agent_and_1_to_the_customer(lab):  # noqa: F811
    with UdpSip("agent") as agent_phone, UdpSip("carrier") as carrier, \
            UdpSip("supervisor") as supervisor, esl(lab) as connection:
        a, b, s = (str(uuid.uuid4()) for _ in range(3))
        for leg, phone in ((a, agent_phone), (b, carrier)):
            connection.bgapi(f"originate {{origination_uuid={leg}}}sofia/internal/"
                             f"sip:{phone.user}@127.0.0.1:{phone.port} &park()")
        agent_media = _answered(agent_phone, SILENCE)
        customer_media = _answered(carrier, SILENCE)
        time.sleep(0.5)
        assert connection.api(f"uuid_bridge {a} {b}").startswith("+OK")
        connection.bgapi(f"originate {{origination_uuid={s},eavesdrop_enable_dtmf=true}}"
                         f"sofia/internal/sip:supervisor@127.0.0.1:{supervisor.port}"
                         f" &eavesdrop({a})")
        supervisor_media = _answered(supervisor, TONE)
        try:
            heard = {}
            for key in ("0", "2", "1", "3", "0"):
                assert connection.api(f"uuid_recv_dtmf {s} {key}").startswith("+OK")
                time.sleep(0.4)            # RTP is a clock: let the new mix reach the phones
                since = time.monotonic()
                time.sleep(1.0)
                heard[key] = (agent_media.loudness(since), customer_media.loudness(since))
            print("median loudness heard (agent, customer) after each key:", heard)
            loud = 1000
            assert heard["0"][0] < loud and heard["0"][1] < loud
            assert heard["2"][0] > loud and heard["2"][1] < loud     # 2: the agent alone
            assert heard["1"][0] < loud and heard["1"][1] > loud     # 1: the customer alone
            assert heard["3"][0] > loud and heard["3"][1] > loud
            connection.api(f"uuid_kill {s}")
            time.sleep(0.5)
            assert connection.api(f"uuid_exists {a}").strip() == "true"
            assert connection.api(f"uuid_exists {b}").strip() == "true"
            assert b in connection.api(f"uuid_getvar {a} bridge_uuid") or \
                b in connection.api(f"uuid_getvar {a} signal_bond")
        finally:
            for media in (agent_media, customer_media, supervisor_media):
                media.stopped = True
            connection.api(f"uuid_kill {a}")
            connection.api(f"uuid_kill {b}")
