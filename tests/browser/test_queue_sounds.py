"""An admin uploads a sound on a queue's page, plays it back in the browser, picks it as the
queue's greeting, and sees a bad file refused with the reason."""

from __future__ import annotations

import pytest

from callcenter import queue_config
from callcenter.audit import CLI
from tests.conftest import PASSWORD
from tests.test_media import mp3_bytes, wav_bytes

pytestmark = pytest.mark.slow


def test_an_admin_uploads_plays_and_picks_a_greeting(server, browser, database, tmp_path):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
        s.commit()
    greeting = tmp_path / "welcome.mp3"
    greeting.write_bytes(mp3_bytes(seconds=1.5))
    stereo = tmp_path / "stereo.wav"
    stereo.write_bytes(wav_bytes(channels=2))

    page = browser.new_page()
    page.goto(server + "/login")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")
    page.goto(server + "/admin/queues/sales")
    assert page.text_content("#sounds + p + p") == "No sound uploaded yet."

    page.set_input_files("#sound-file", str(greeting))
    page.click("form[action$='/sounds'] button[type=submit]")
    page.wait_for_selector("text=Sound welcome.wav uploaded")
    row = page.locator("#sound-list tbody tr")
    assert row.count() == 1 and row.locator("td").first.text_content() == "welcome.wav"
    path = row.locator("code").text_content()
    assert path.endswith("/media/welcome.wav")

    # The browser fetches the kept WAV and plays it (muted: no gesture needed to play).
    played = page.evaluate("""async () => {
        const audio = document.querySelector('#sound-list audio');
        audio.muted = true;
        await audio.play();
        await new Promise(done => {
            const check = () => audio.currentTime > 0.2 ? done() : setTimeout(check, 50);
            check();
        });
        return {duration: audio.duration, time: audio.currentTime};
    }""")
    assert 1.4 <= played["duration"] <= 1.7 and played["time"] > 0.2, played

    # Picked as the greeting by its path (offered as one types), then played next to it.
    assert page.locator(f"#sound-paths option[value='{path}']").count() == 1
    page.fill("#setting-greeting", path)
    page.click("form[action$='/admin/queues/sales'] button[type=submit]")
    page.wait_for_selector("text=Queue sales saved.")
    assert page.input_value("#setting-greeting") == path
    assert page.get_attribute("#setting-greeting-play", "src") == "/admin/media/welcome.wav"

    page.set_input_files("#sound-file", str(stereo))
    page.click("form[action$='/sounds'] button[type=submit]")
    error = page.wait_for_selector("#upload-error")
    assert "Nothing was uploaded" in error.text_content()
    assert "2 channel(s)" in error.text_content()
    assert page.locator("#sound-list tbody tr").count() == 1
