"""The channel variables a leg gathers on its way, as mod_sofia and the core set them.

Each function adds one step's variables (INVITE sent, 180, 183/200, the call-id flip, bridge,
hangup ...) in the order FreeSWITCH 1.10 set them in the captures. SIP details (tags, branches,
SDP, ports) are made up but shaped like the real ones.
"""

from __future__ import annotations

import random
import string
import time

from callcenter.sim.channels import Channel

LOCAL_IP = "127.0.0.1"
INTERNAL_PORT = 5060  # profile "internal": registered extensions
EXTERNAL_PORT = 5080  # profile "external": the carrier and inbound callers
CARRIER_PORT = 5094
CODECS = "OPUS,G722,PCMU,PCMA"

# The static directory's user variables (conf/directory/default/*.xml), as seen on user legs.
DIRECTORY_VARS = (
    ("record_stereo", "true"), ("default_gateway", "example.com"), ("default_areacode", "918"),
    ("transfer_fallback_extension", "operator"), ("toll_allow", "domestic,international,local"),
)

Q850 = {
    "UNALLOCATED_NUMBER": 1, "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21, "NUMBER_CHANGED": 22,
    "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "NORMAL_UNSPECIFIED": 31,
    "NORMAL_CIRCUIT_CONGESTION": 34, "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41,
    "SWITCH_CONGESTION": 42, "INCOMPATIBLE_DESTINATION": 88, "RECOVERY_ON_TIMER_EXPIRE": 102,
    "ORIGINATOR_CANCEL": 487, "ALLOTTED_TIMEOUT": 602, "USER_NOT_REGISTERED": 606,
    "SYSTEM_SHUTDOWN": 503, "MANAGER_REQUEST": 503, "LOSE_RACE": 502, "PICKED_OFF": 500,
    "INVALID_GATEWAY": 608, "GATEWAY_DOWN": 609, "SERVICE_UNAVAILABLE": 63,
}

# The SIP final response a far end sends for a reject cause, and its reason phrase.
SIP_FOR_CAUSE = {
    "USER_BUSY": (486, "Busy Here"), "NORMAL_TEMPORARY_FAILURE": (503, "Service Unavailable"),
    "CALL_REJECTED": (603, "Decline"), "UNALLOCATED_NUMBER": (404, "Not Found"),
    "NO_USER_RESPONSE": (408, "Request Timeout"), "SUBSCRIBER_ABSENT": (480,
    "Temporarily Unavailable"), "NO_ANSWER": (480, "Temporarily Unavailable"),
    "INVALID_NUMBER_FORMAT": (484, "Address Incomplete"), "NORMAL_CIRCUIT_CONGESTION": (503,
    "Service Unavailable"), "SERVICE_UNAVAILABLE": (503, "Service Unavailable"),
    "DESTINATION_OUT_OF_ORDER": (502, "Bad Gateway"), "RECOVERY_ON_TIMER_EXPIRE": (408,
    "Request Timeout"), "INCOMPATIBLE_DESTINATION": (488, "Not Acceptable Here"),
}

_TOKEN = string.ascii_letters + string.digits


def token(n: int = 13) -> str:
    return "".join(random.choices(_TOKEN, k=n))


def media_port() -> int:
    return random.randrange(16384, 32768, 2)


def stamp(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000)) if us else ""


def _sdp(origin: str, port: int, version: int, codecs: bool = True) -> str:
    session = random.randrange(10**8, 10**9)
    media = f"m=audio {port} RTP/AVP 102 0 8 103 101\r\n" if codecs else \
        f"m=audio {port} RTP/AVP 0 101\r\n"
    return (f"v=0\r\no={origin} {session} {session + version} IN IP4 {LOCAL_IP}\r\n"
            f"s={origin}\r\nc=IN IP4 {LOCAL_IP}\r\nt=0 0\r\n{media}"
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n")


def outgoing(ch: Channel, originate_vars: dict[str, str], *, domain: str,
             gateway: str) -> None:
    """Set when the INVITE leaves: the originate's {vars}, the profile, our SDP offer."""
    s = ch.set_var
    port = media_port()
    s("direction", "outbound")
    s("is_outbound", "true")
    s("uuid", ch.uuid)
    s("call_uuid", ch.uuid)
    s("session_id", ch.session_id)
    if ch.kind == "gateway":
        s("sip_gateway_name", gateway)
    s("sip_local_network_addr", LOCAL_IP)
    s("sip_profile_name", "gateway" if ch.kind == "gateway" else "internal")
    s("video_media_flow", "disabled")
    s("text_media_flow", "disabled")
    s("channel_name", ch.name)
    far = f"{LOCAL_IP}:{ch.far_port}"
    dest = ch.profile.destination_number
    if ch.kind == "gateway":
        s("sip_destination_url", f"sip:{dest}@{far}")
    else:
        s("sip_destination_url", f"sip:{dest}@{far};transport=udp")
    for name, value in originate_vars.items():
        s(name, value)
    if ch.kind == "user":
        s("dialed_user", dest)
        s("dialed_domain", domain)
        s("sip_invite_domain", domain)
        s("presence_id", f"{dest}@{domain}")
    s("originate_early_media", "true")
    s("originate_endpoint", "sofia" if ch.kind != "loopback" else "loopback")
    s("rtp_use_codec_string", CODECS)
    s("local_media_ip", LOCAL_IP)
    s("local_media_port", port)
    s("advertised_media_ip", LOCAL_IP)
    s("audio_media_flow", "sendrecv")
    s("rtp_local_sdp_str", _sdp("FreeSWITCH", port, 1))
    if ch.kind == "gateway":
        s("sip_outgoing_contact_uri",
          f"<sip:gw+{gateway}@{LOCAL_IP}:{EXTERNAL_PORT};transport=udp;gw={gateway}>")
        s("sip_req_uri", f"{dest}@{far}")
    else:
        s("sip_outgoing_contact_uri", f"<sip:mod_sofia@{LOCAL_IP}:{INTERNAL_PORT}>")
        s("sip_req_uri", f"{dest}@{far};transport=udp")
    s("sip_to_host", far)
    s("sip_from_host", LOCAL_IP)
    profile = "external" if ch.kind == "gateway" else "internal"
    s("sofia_profile_name", profile)
    s("recovery_profile_name", profile)
    port_ = EXTERNAL_PORT if ch.kind == "gateway" else INTERNAL_PORT
    s("sofia_profile_url", f"sip:mod_sofia@{LOCAL_IP}:{port_}")


def _reply_dialog(ch: Channel) -> None:
    """The dialog state any first SIP response (180, 183, 200) fills in."""
    s = ch.set_var
    far_port = ch.far_port
    branch = "z9hG4bK" + token(13)
    via_port = f":{EXTERNAL_PORT}" if ch.kind == "gateway" else ""
    s("sip_reply_host", LOCAL_IP)
    s("sip_reply_port", far_port)
    s("sip_network_ip", LOCAL_IP)
    s("sip_network_port", far_port)
    s("sip_recover_contact", f"<sip:{LOCAL_IP}:{far_port};transport=UDP>")
    s("sip_full_via", f"SIP/2.0/UDP {LOCAL_IP}{via_port};rport;branch={branch}")
    s("sip_recover_via", f"SIP/2.0/UDP {LOCAL_IP}{via_port};rport;branch={branch}")
    cid = ch.profile.caller_id_number
    dest = ch.profile.destination_number
    from_tag, to_tag = token(13), f"{random.randrange(1000, 9999)}SIPpTag01{ch.session_id % 10}"
    transport = ";transport=udp" if ch.kind != "gateway" else ""
    s("sip_full_from", f"<sip:{cid}@{LOCAL_IP}>;tag={from_tag}")
    s("sip_full_to", f"<sip:{dest}@{LOCAL_IP}:{far_port}{transport}>;tag={to_tag}")
    s("sip_from_user", cid)
    s("sip_from_uri", f"{cid}@{LOCAL_IP}")
    if ch.kind != "gateway":
        s("sip_to_params", "transport=udp")
    s("sip_to_user", dest)
    s("sip_to_port", far_port)
    s("sip_to_uri", f"{dest}@{LOCAL_IP}:{far_port}")
    s("sip_to_host", LOCAL_IP)
    s("sip_contact_params", "transport=UDP")
    s("sip_contact_user", "nobody")
    s("sip_contact_port", far_port)
    s("sip_contact_uri", f"nobody@{LOCAL_IP}:{far_port}")
    s("sip_contact_host", LOCAL_IP)
    s("sip_to_tag", to_tag)
    s("sip_from_tag", from_tag)
    s("sip_cseq", random.randrange(10**8, 2 * 10**8))
    s("sip_call_id", f"{token(8).lower()}-{token(4).lower()}-1240-2386-7a9145900352")


def ringing(ch: Channel) -> None:
    """180 Ringing."""
    _reply_dialog(ch)


def remote_media(ch: Channel, *, answered: bool) -> None:
    """The far end's SDP (in a 183 or 200) and the media negotiated from it."""
    s = ch.set_var
    if "sip_call_id" not in ch.variables:
        _reply_dialog(ch)
    if "switch_r_sdp" not in ch.variables:
        origin = "carrier" if ch.kind == "gateway" else "agent"
        sdp = _sdp(origin, media_port(), 0, codecs=False)
        if answered:
            s("switch_r_sdp", sdp)
            s("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b")
        else:
            s("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b")
            s("switch_r_sdp", sdp)
            s("endpoint_disposition", "EARLY MEDIA")
            return  # RTP is set up after CHANNEL_PROGRESS_MEDIA (negotiated())
    negotiated(ch)


def negotiated(ch: Channel, *, with_recv_pt: bool = True) -> None:
    """RTP set up: codec, payload types, the far end's media address."""
    if "rtp_use_codec_name" in ch.variables:
        return
    s = ch.set_var
    s("remote_video_media_flow", "inactive")
    s("remote_text_media_flow", "inactive")
    s("remote_audio_media_flow", "sendrecv")
    if with_recv_pt:
        s("rtp_audio_recv_pt", "0")
    s("rtp_use_codec_name", "PCMU")
    s("rtp_use_codec_rate", "8000")
    s("rtp_use_codec_ptime", "20")
    s("rtp_use_codec_channels", "1")
    s("rtp_last_audio_codec_string", "PCMU@8000h@20i@1c")
    s("read_codec", "PCMU")
    s("original_read_codec", "PCMU")
    s("read_rate", "8000")
    s("original_read_rate", "8000")
    s("write_codec", "PCMU")
    s("write_rate", "8000")
    s("dtmf_type", "rfc2833")
    if "local_media_ip" not in ch.variables:
        s("local_media_ip", LOCAL_IP)
        s("local_media_port", media_port())
        s("advertised_media_ip", LOCAL_IP)
    s("rtp_use_timer_name", "soft")
    s("rtp_use_pt", "0")
    s("rtp_use_ssrc", random.randrange(10**9, 4 * 10**9))
    s("rtp_2833_send_payload", "101")
    s("rtp_2833_recv_payload", "101")
    s("remote_media_ip", LOCAL_IP)
    s("remote_media_port", media_port())


def answered_user(ch: Channel, extension: str) -> None:
    """After a user/ leg answers: the directory's variables and the flipped caller id."""
    s = ch.set_var
    s("endpoint_disposition", "ANSWER")
    for name, value in DIRECTORY_VARS:
        s(name, value)
    s("accountcode", extension)
    s("user_context", "default")
    s("effective_caller_id_name", f"Extension {extension}")
    s("effective_caller_id_number", extension)
    s("outbound_caller_id_name", "FreeSWITCH")
    s("outbound_caller_id_number", "0000000000")
    s("callgroup", "techsupport")
    s("originate_endpoint", "user")


def cid_flipped(ch: Channel, previous_number: str) -> None:
    ch.set_var("pre_transfer_caller_id_number", previous_number)
    ch.set_var("channel_cid_flipped", "yes")


def inbound(ch: Channel, caller: str, caller_name: str, did: str, far_port: int) -> None:
    """An INVITE from the carrier to one of our numbers (profile "external")."""
    s = ch.set_var
    s("direction", "inbound")
    s("uuid", ch.uuid)
    s("call_uuid", ch.uuid)
    s("session_id", ch.session_id)
    s("sip_from_user", caller)
    s("sip_from_port", far_port)
    s("sip_from_uri", f"{caller}@{LOCAL_IP}:{far_port}")
    s("sip_from_host", LOCAL_IP)
    s("video_media_flow", "disabled")
    s("audio_media_flow", "disabled")
    s("text_media_flow", "disabled")
    s("channel_name", ch.name)
    s("sip_call_id", f"1-{random.randrange(1000, 99999)}@{LOCAL_IP}")
    s("sip_local_network_addr", LOCAL_IP)
    s("sip_network_ip", LOCAL_IP)
    s("sip_network_port", far_port)
    s("sip_received_ip", LOCAL_IP)
    s("sip_received_port", far_port)
    s("sip_via_protocol", "udp")
    s("sip_from_user_stripped", caller)
    tag = f"{random.randrange(1000, 9999)}SIPpTag021"
    s("sip_from_tag", tag)
    s("sofia_profile_name", "external")
    s("sofia_profile_url", f"sip:mod_sofia@{LOCAL_IP}:{EXTERNAL_PORT}")
    s("recovery_profile_name", "external")
    s("sip_full_via", f"SIP/2.0/UDP {LOCAL_IP}:{far_port};branch=z9hG4bK-{token(6)}-1-0")
    if caller_name:
        s("sip_from_display", caller_name)
        s("sip_full_from", f'"{caller_name}" <sip:{caller}@{LOCAL_IP}:{far_port}>;tag={tag}')
    else:
        s("sip_full_from", f"<sip:{caller}@{LOCAL_IP}:{far_port}>;tag={tag}")
    s("sip_full_to", f"<sip:{did}@{LOCAL_IP}:{EXTERNAL_PORT}>")
    s("sip_req_user", did)
    s("sip_req_port", EXTERNAL_PORT)
    s("sip_req_uri", f"{did}@{LOCAL_IP}:{EXTERNAL_PORT}")
    s("sip_req_host", LOCAL_IP)
    s("sip_to_user", did)
    s("sip_to_port", EXTERNAL_PORT)
    s("sip_to_uri", f"{did}@{LOCAL_IP}:{EXTERNAL_PORT}")
    s("sip_to_host", LOCAL_IP)
    s("sip_contact_user", caller)
    s("sip_contact_port", far_port)
    s("sip_contact_uri", f"{caller}@{LOCAL_IP}:{far_port}")
    s("sip_contact_host", LOCAL_IP)
    s("rtp_use_codec_string", CODECS)
    s("sip_via_host", LOCAL_IP)
    s("sip_via_port", far_port)
    s("max_forwards", "70")
    s("switch_r_sdp", _sdp("customer", media_port(), 0, codecs=False))
    s("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b")
    s("endpoint_disposition", "DELAYED NEGOTIATION")
    s("sip_invite_stamp", ch.times["created"])


def local_sdp(ch: Channel) -> None:
    """Our SDP answer, sent with a 183 or 200 on an inbound leg."""
    if "rtp_local_sdp_str" not in ch.variables:
        ch.set_var("rtp_local_sdp_str",
                   _sdp("FreeSWITCH", int(ch.variables.get("local_media_port", 0)), 1, False))


def guest(ch: Channel, variables: dict[str, str]) -> None:
    """A website visitor's INVITE over WSS to the internal profile, authenticated by digest:
    FreeSWITCH sets the directory user's variables on the channel (user_context, cc_queue,
    cc_channel, cc_widget, cc_guest for a guest) before it routes the call."""
    s = ch.set_var
    s("sofia_profile_name", "internal")
    s("sofia_profile_url", f"sip:mod_sofia@{LOCAL_IP}:{INTERNAL_PORT}")
    s("recovery_profile_name", "internal")
    s("sip_via_protocol", "wss")
    user = ch.profile.caller_id_number
    s("sip_authorized", "true")
    s("sip_auth_username", user)
    s("sip_auth_realm", variables.get("domain_name", ""))
    for name, value in variables.items():
        s(name, value)


def inbound_answered(ch: Channel) -> None:
    """Our 200 OK to the caller, ACKed."""
    s = ch.set_var
    s("endpoint_disposition", "ANSWER")
    s("sip_to_tag", token(13))
    s("sip_cseq", "1")
    via = ch.variables.get("sip_full_via", "")
    s("sip_full_via", via[:-1] + "5" if via else via)
    s("sip_full_to", ch.variables.get("sip_full_to", "") + f";tag={ch.variables['sip_to_tag']}")


def transfer(ch: Channel, partner: Channel, source: str, *, first: bool) -> None:
    """uuid_bridge moves both legs to a new caller profile ("uuid_br" transfer)."""
    s = ch.set_var
    if first:
        s("uuid_bridge", partner.uuid)
    s("bridge_channel", partner.name)
    s("bridge_uuid", partner.uuid)
    s("signal_bond", partner.uuid)
    s("original_destination_number", ch.profile.destination_number)
    s("original_caller_id_name", ch.profile.caller_id_name)
    s("original_caller_id_number", ch.profile.caller_id_number)
    s("transfer_history", source)
    s("transfer_source", source)


def bridged(ch: Channel, partner: Channel) -> None:
    ch.set_var("bridge_to", partner.uuid)
    ch.set_var("last_bridge_to", partner.uuid)


def sent_callee(ch: Channel, name: str, number: str) -> None:
    """The identity sent to this leg's far end (the CALL_UPDATE after a bridge)."""
    ch.set_var("last_sent_callee_id_name", name or number)
    ch.set_var("last_sent_callee_id_number", number)


def far_end_hangup(ch: Channel, status: int, phrase: str, cause: str) -> None:
    """The far end ended the dialog (BYE, or a final error response to our INVITE)."""
    s = ch.set_var
    s("sip_term_status", status)
    s("proto_specific_hangup_cause", f"sip:{status}")
    s("sip_term_cause", Q850.get(cause, 16))


def refused(ch: Channel, status: int, phrase: str, cause: str) -> None:
    """A final error response (486, 503 ...) to our INVITE."""
    s = ch.set_var
    if "sip_call_id" not in ch.variables:
        s("sip_call_id", f"{token(8).lower()}-{token(4).lower()}-1240-2386-7a9145900352")
        s("sip_reply_host", LOCAL_IP)
        s("sip_reply_port", ch.far_port)
        s("sip_network_ip", LOCAL_IP)
        s("sip_network_port", ch.far_port)
    s("sip_hangup_disposition", "recv_refuse")
    s("sip_invite_failure_status", status)
    s("sip_invite_failure_phrase", phrase)
    far_end_hangup(ch, status, phrase, cause)


def reporting(ch: Channel, now_us: int) -> None:
    """What CHANNEL_HANGUP_COMPLETE adds: the timetable, durations, RTP statistics (CDR)."""
    s = ch.set_var
    t = ch.times
    cause = ch.hangup_cause
    s("hangup_cause", cause)
    s("hangup_cause_q850", Q850.get(cause, 16))
    s("digits_dialed", "none")
    start, answer, bridge = t["created"], t["answered"], t["bridged"]
    profile_start = ch.profile.created_us
    end = t["hangup"] or now_us
    s("start_stamp", stamp(start))
    s("profile_start_stamp", stamp(profile_start))
    for name, value in (("answer", answer), ("bridge", bridge), ("hold", t["last_hold"]),
                        ("progress", t["progress"]), ("progress_media", t["progress_media"])):
        if value:
            s(f"{name}_stamp", stamp(value))
    if ch.hold_events:
        s("hold_events", "{" + ",".join(f"{{{a},{b}}}" for a, b in ch.hold_events) + "}")
    s("end_stamp", stamp(end))
    hold_accum = t["hold_accum"]
    epochs = (
        ("start", start), ("profile_start", profile_start), ("answer", answer),
        ("bridge", bridge), ("last_hold", t["last_hold"]), ("hold_accum", None),
        ("resurrect", t["resurrect"]), ("progress", t["progress"]),
        ("progress_media", t["progress_media"]), ("end", end),
    )
    for name, us in epochs:
        if us is None:
            s("hold_accum_seconds", hold_accum // 1_000_000)
            s("hold_accum_usec", hold_accum)
            s("hold_accum_ms", hold_accum // 1000)
            continue
        s(f"{name}_epoch", us // 1_000_000)
        s(f"{name}_uepoch", us)
    if ch.last_app:
        s("last_app", ch.last_app[0])
        if ch.last_app[1]:
            s("last_arg", ch.last_app[1])
    name, number = ch.profile.caller_id_name, ch.profile.caller_id_number
    s("caller_id", f'"{name}" <{number}>' if name else number)
    answered = bool(answer)
    spans = (  # (variable stem, from, to): FreeSWITCH subtracts truncated timestamps
        ("bill", answer, end if answered else 0), ("progress", start, t["progress"]),
        ("answer", start, answer), ("wait", start, bridge if bridge > start else 0),
        ("progress_media", start, t["progress_media"]),
        ("flow_bill", start, end if answered else 0),
    )
    s("duration", end // 1_000_000 - start // 1_000_000)
    for stem, a, b in spans:
        s(f"{stem}sec", b // 1_000_000 - a // 1_000_000 if b else 0)
    s("mduration", end // 1000 - start // 1000)
    for stem, a, b in spans:
        s(f"{stem}msec", b // 1000 - a // 1000 if b else 0)
    s("uduration", end - start)
    for stem, a, b in spans:
        s(f"{stem}usec", b - a if b else 0)
    if ch.hangup_disposition and "sip_hangup_disposition" not in ch.variables:
        s("sip_hangup_disposition", ch.hangup_disposition)
        if ch.hangup_disposition == "send_cancel":
            s("sip_invite_failure_status", "487")
            s("sip_invite_failure_phrase", "CANCEL")
    if ch.codec:
        rtp_stats(ch, end - (answer or t["progress_media"] or end))


def rtp_stats(ch: Channel, media_us: int) -> None:
    packets = media_us // 20_000
    s = ch.set_var
    for name, value in (
        ("in_raw_bytes", 0), ("in_media_bytes", 0), ("in_packet_count", 0),
        ("in_media_packet_count", 0), ("in_skip_packet_count", packets),
        ("in_jitter_packet_count", 0), ("in_dtmf_packet_count", 0),
        ("in_cng_packet_count", 0), ("in_flush_packet_count", 0), ("in_largest_jb_size", 0),
        ("in_jitter_min_variance", "0.00"), ("in_jitter_max_variance", "0.00"),
        ("in_jitter_loss_rate", "0.00"), ("in_jitter_burst_rate", "0.00"),
        ("in_mean_interval", "0.00"), ("in_flaw_total", 0),
        ("in_quality_percentage", "100.00"), ("in_mos", "4.50"),
        ("out_raw_bytes", packets * 172), ("out_media_bytes", packets * 172),
        ("out_packet_count", packets), ("out_media_packet_count", packets),
        ("out_skip_packet_count", 0), ("out_dtmf_packet_count", 0),
        ("out_cng_packet_count", 0), ("rtcp_packet_count", 0), ("rtcp_octet_count", 0),
    ):
        s(f"rtp_audio_{name}", value)
