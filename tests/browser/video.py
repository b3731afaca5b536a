"""Video seen in a page: the decoded frames of a peer connection, waited for in the page."""

from __future__ import annotations

AGENT_PEER = "window.softphone.session.sessionDescriptionHandler.peerConnection"
VIDEO_IN = """async (pc) => {
  const stats = await pc.getStats();
  let frames = 0, codec = null;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") {
      frames += r.framesDecoded || 0;
      if (r.codecId) codec = stats.get(r.codecId)?.mimeType || codec;
    }
  });
  return { frames, codec };
}"""


def video_grows(page, peer: str, timeout: float) -> dict:
    """Wait until `peer` (a JS expression) decoded video frames, then for more of them: the
    picture moves. The first figures (frames, codec). Polled in the page: Playwright's
    wait_for_function takes an async predicate's promise as truthy and may hand back a
    `false` it resolved to."""
    def above(frames: int) -> dict:
        return page.evaluate(f"""async () => {{
            const deadline = Date.now() + {timeout};
            for (;;) {{
                const seen = await ({VIDEO_IN})({peer});
                if (seen.frames > {frames} || Date.now() > deadline) return seen;
                await new Promise((resolve) => setTimeout(resolve, 100));
            }} }}""")
    first = above(0)
    assert first["frames"] > 0, f"no video frame decoded: {first}"
    later = above(first["frames"])
    assert later["frames"] > first["frames"], f"the video stopped: {later}"
    return first
