"""A FreeSWITCH simulator speaking the real Event Socket wire protocol.

It stands in for FreeSWITCH 1.10 in tests, in the embedded demo (`callcenter serve` without
CALLCENTER_ESL_HOST) and in load benchmarks. It copies the captures of a real FreeSWITCH
1.10.12 in tests/fixtures/esl/: for every captured flow, each leg gets the same events in
the same order, each with the same header names (channel variables included), and the
replies are FreeSWITCH's (tests/sim/test_fidelity.py replays them all).

Where it knowingly differs from FreeSWITCH:

- No SIP, RTP or audio: far ends are scripted (Behaviour); SIP details inside variables
  (tags, branches, SDP, ports, call-ids) are made up in the captured shapes.
- Not sent: PRESENCE_IN and CODEC for channels, CALL_UPDATE, MESSAGE_QUERY. Variables the
  captures show first on a CALL_UPDATE appear on the leg's next event instead.
- CHANNEL_HANGUP_COMPLETE's leading Hangup-Cause appears once, not twice (an Event holds a
  dict of headers).
- Variable order inside an event may differ (names and values are FreeSWITCH's); a few values
  that raced in the captures are fixed here: the b leg's bridge_hangup_cause is set before
  its HANGUP_COMPLETE, and its Channel-Call-UUID goes back to its own uuid there.
- The event order across legs can differ where FreeSWITCH's threads interleave (per leg it
  is the captured order); an `api` reply always precedes the events the command caused.
- Under load FreeSWITCH lets uuid_bridge win two races: before the originate returns (job
  -ERR ORIGINATOR_CANCEL) and after it, before &park() runs (no CHANNEL_PARK). The
  simulator opens those windows only when asked (originate_settle_ms, app_delay_ms).
- `fsctl shutdown` sends 7 MODULE_UNLOAD events rather than ~210, and disconnects at once.
- Originate takes one dial string (no `,`/`|` lists): user/<ext>, sofia/gateway/<gw>/<n>,
  loopback/<n> (a single "-a" leg that answers as scripted) and error/<cause>.
- The dialplan: an inbound DID runs the public extension of capture 05 (set outside_call,
  export RFC2822_DATE, set cc_queue=<queue>, park) for the DIDs of the shipped dids.xml (apps.
  SHIPPED_DIDS) and any a test adds; any other extension just parks. The shipped dids.xml also
  sets park_timeout=3600 before parking, which the captured switch did not and the simulator
  does not (one more set, and a caller hung up after an hour in a queue). Pointed at a
  controller (`Simulator.ask_controller`, which `callcenter serve` does for its built-in one),
  the public context is the controller's mod_xml_curl answer instead (sim/dialplan.py: its
  set/park/respond/hangup run), and the static DIDs only when the controller does not answer.
- Hold music on a held leg's partner ends at once ("FILE NOT FOUND"), as on the captured
  switch, which had no MOH files. A sound file plays for 3 s; silence_stream://N for N ms;
  tone and local streams until broken. Broadcasts queue up on a leg and play one after the
  other, as FreeSWITCH's do; a phrase (`phrase:NAME:N`) plays nothing, as on a switch without
  sound files (no PLAYBACK_START/STOP, only its playback's EXECUTE and EXECUTE_COMPLETE).
- Recordings are silent 8 kHz 16-bit stereo WAV files as long as the recording lasted.
- Website visitors' calls (guests.py, started by `callcenter serve`) arrive over a WebSocket
  listener of their own rather than the internal profile's wss-binding; their SDP answer has
  no ICE candidates (no media flows), and it is sent when the leg is answered (no 183).
- `event xml`, sendmsg/sendevent, log, myevents, userauth and linger are refused.
- The capture notes say eavesdrop's MEDIA_BUG_START names the listener in Media-Bug-Target;
  the capture itself names the eavesdropped leg, and so does the simulator.
"""

from callcenter.sim.endpoints import Behaviour
from callcenter.sim.simulator import CallGenerator, Simulator, serve_forever

__all__ = ["Behaviour", "CallGenerator", "Simulator", "serve_forever"]
