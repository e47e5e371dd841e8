#!/usr/bin/python3
# The browser half of tests/e2e/serve_browser.sh (read its header first). Three subcommands:
#   pick   from `aslnet predict --json` over held-out photos, the best-read photo of each class needed
#   video  a YUV4MPEG2 video (C420jpeg, the format Chromium's fake camera reads) that holds one photo
#          per sign, each for --hold-s seconds
#   drive  headless Chromium (Debian's chromium and chromedriver, selenium 4.8) against a running
#          aslnet serve: the page loads, a server error shows in #status, a dropped photo and a picked
#          one get their letters and 5 bars, live mode fed by the fake camera spells the word, a
#          screenshot is saved, Speak points #audio at a WAV the server answers, Clear empties the
#          text, Stop stops the camera.
# Run with /usr/bin/python3 (Debian's numpy, Pillow and selenium), never a virtual environment's python.
import argparse
import base64
import json
import os
import re
import sys
import time


def log(message):
    print(f"serve_browser: {message}", flush=True)


# ---------------------------------------------------------------- pick

def pick(args):
    """Prints one line per class: CLASS PATH PROBABILITY, the photo the model reads best among those it
    reads right. Fails naming the class when none reaches --min-probability."""
    results = json.load(open(args.predictions))
    best = {}
    for r in results:
        truth = os.path.basename(os.path.dirname(r["image"]))
        top = r["top"][0]
        if top["class"].lower() != truth.lower() or top["probability"] < args.min_probability:
            continue
        if truth not in best or top["probability"] > best[truth][1]:
            best[truth] = (r["image"], top["probability"])
    missing = [c for c in args.classes if c not in best]
    if missing:
        sys.exit(f"no held-out photo of {', '.join(missing)} is read right with probability >= {args.min_probability}")
    for c in args.classes:
        print(c, best[c][0], f"{best[c][1]:.3f}")


# ---------------------------------------------------------------- video

def video(args):
    """Writes a Y4M video: each photo (centre-cropped to a square, resized to --size) held --hold-s
    seconds at --fps. Chromium's fake camera loops it."""
    import numpy as np
    from PIL import Image

    size, fps = args.size, args.fps
    assert size % 2 == 0, "4:2:0 needs an even size"
    frames_per_sign = round(args.hold_s * fps)
    with open(args.out, "wb") as out:
        out.write(f"YUV4MPEG2 W{size} H{size} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for path in args.photos:
            image = Image.open(path).convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
            rgb = np.asarray(image, dtype=np.float32)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            # Full-range BT.601 (JFIF), as C420jpeg says; chroma averaged over 2x2 blocks.
            y = 0.299 * r + 0.587 * g + 0.114 * b
            cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
            sub = lambda p: p.reshape(size // 2, 2, size // 2, 2).mean(axis=(1, 3))
            planes = b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in (y, sub(cb), sub(cr)))
            for _ in range(frames_per_sign):
                out.write(b"FRAME\n")
                out.write(planes)
    seconds = len(args.photos) * frames_per_sign / fps
    log(f"video {args.out}: {len(args.photos)} signs x {frames_per_sign} frames at {fps} fps ({seconds:.0f} s a loop)")


# ---------------------------------------------------------------- drive

IDS = ["file", "drop", "photo", "letter", "bars", "start", "stop", "clear", "speak", "video", "live-letter",
       "live-text", "status", "audio"]


def drive(args):
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-video-capture={os.path.abspath(args.video)}",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    by_id = lambda i: driver.find_element(By.ID, i)
    text_of = lambda i: driver.execute_script("return document.getElementById(arguments[0]).textContent", i)

    def wait(seconds, condition, what):
        try:
            return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: condition())
        except TimeoutException:
            raise AssertionError(f"{what}: not within {seconds} s (#status: {text_of('status')!r})") from None

    try:
        driver.set_window_size(1200, 900)
        # The page.
        started = time.time()
        driver.get(args.url)
        missing = [i for i in IDS if not driver.find_elements(By.ID, i)]
        assert not missing, f"the page lacks the ids {missing}"
        external = driver.execute_script(
            "return [...document.querySelectorAll('script[src], link[href], img[src]')]"
            ".map(e => e.src || e.href).filter(u => u && !u.startsWith('data:') && !u.startsWith('blob:'))")
        assert not external, f"the page loads external resources: {external}"
        wait(15, lambda: "resnet" in text_of("model"), "the page shows the model from /healthz")
        log(f"page loaded: {text_of('model')!r}, status {text_of('status')!r}")

        # A server error ({"error": ...}, 400 for a corrupt JPEG) shows in #status.
        by_id("file").send_keys(os.path.abspath(args.corrupt))
        wait(20, lambda: "error" in by_id("status").get_attribute("class"), "a corrupt photo's error in #status")
        log(f"corrupt upload: #status {text_of('status')!r}")

        # A photo dropped on #drop (a synthetic drop event carrying the file) gets its letter.
        with open(args.drop_photo, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        driver.execute_script("""
            const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'dropped.jpg', {type: 'image/jpeg'}));
            const zone = document.getElementById('drop');
            for (const type of ['dragenter', 'dragover', 'drop'])
              zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));""", data)
        wait(30, lambda: text_of("letter").strip() == args.drop_letter
             and len(driver.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 5,
             f"#letter {args.drop_letter} for the dropped photo")
        log(f"dropped {os.path.basename(args.drop_photo)}: #letter {text_of('letter').strip()!r}")

        # Photo: the letter and 5 bars.
        t0 = time.time()
        shown = by_id("photo").get_attribute("src")  # the page replaces it, and empties #bars, on a new photo
        by_id("file").send_keys(os.path.abspath(args.photo))
        wait(30, lambda: by_id("photo").get_attribute("src") != shown and text_of("letter").strip() != "\u2026"
             and len(driver.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 5, "5 bars for the photo")
        letter = text_of("letter").strip()
        bars = [(b.get_attribute("data-class"), float(b.get_attribute("data-probability")))
                for b in driver.find_elements(By.CSS_SELECTOR, "#bars .bar")]
        log(f"photo {os.path.basename(args.photo)}: #letter {letter!r} in {time.time() - t0:.1f} s, bars {bars}")
        assert letter == args.letter, f"#letter shows {letter!r}, expected {args.letter!r}"
        assert bars[0][0] == args.letter, bars
        assert all(0 <= p <= 1 for _, p in bars) and all(a[1] >= b[1] for a, b in zip(bars, bars[1:])), bars
        assert "error" not in by_id("status").get_attribute("class"), text_of("status")
        assert driver.execute_script("return document.getElementById('photo').naturalWidth") > 0, "#photo shows nothing"

        # Live: the fake camera plays the video (looping); the text must contain the word within the limit.
        assert by_id("speak").get_attribute("disabled") is not None, "Speak is enabled with no text"
        by_id("start").click()
        t0 = time.time()
        seen, texts, last = [], [], None
        while args.word not in text_of("live-text"):
            if time.time() - t0 > args.live_timeout:
                raise AssertionError(f"#live-text is {text_of('live-text')!r} after {args.live_timeout} s, "
                                     f"expected it to contain {args.word!r}; letters seen: {' '.join(seen)}; "
                                     f"texts: {texts}")
            now = (text_of("live-letter"), text_of("live-text"))
            if now != last:
                if not seen or seen[-1] != now[0]:
                    seen.append(now[0])
                if not texts or texts[-1] != now[1]:
                    texts.append(now[1])
                last = now
            time.sleep(0.1)
        live_s = time.time() - t0
        frame_w, frame_h = driver.execute_script(
            "const v = document.getElementById('video'); return [v.videoWidth, v.videoHeight]")
        sent = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/translate?'))")
        log(f"live: #live-text {text_of('live-text')!r} after {live_s:.1f} s ({len(sent)} frames sent, camera "
            f"{frame_w}x{frame_h}); letters seen: {' '.join(seen)}; texts: {texts}")
        log(f"live: #status {text_of('status')!r}")
        ids = {re.search(r"session=([^&]*)", n).group(1) for n in sent}
        assert len(ids) == 1 and re.fullmatch(r"[A-Za-z0-9]{16,64}", next(iter(ids))), f"session ids {ids}"

        driver.save_screenshot(args.screenshot)
        log(f"screenshot: {args.screenshot}")

        # Speak: #audio gets /speech?text=..., and that URL answers a WAV (no sound card needed).
        text = text_of("live-text").strip()
        assert by_id("speak").get_attribute("disabled") is None, "Speak is disabled with text shown"
        by_id("speak").click()
        wait(10, lambda: "/speech?text=" in (by_id("audio").get_attribute("src") or ""), "#audio's src after Speak")
        src = by_id("audio").get_attribute("src")
        answer = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch(arguments[0]).then(async r => {
              const bytes = new Uint8Array(await r.arrayBuffer());
              done({status: r.status, type: r.headers.get('Content-Type'), size: bytes.length,
                    riff: String.fromCharCode(...bytes.slice(0, 4))});
            }).catch(e => done({error: String(e)}));""", src)
        log(f"speak: #audio src {src} -> {answer}")
        assert answer.get("status") == 200 and answer["type"].startswith("audio/wav"), answer
        assert answer["size"] > 1000 and answer["riff"] == "RIFF", answer
        spoken = driver.execute_script("return decodeURIComponent(arguments[0].split('text=')[1])", src)
        assert spoken == text, f"Speak sent {spoken!r}, the text is {text!r}"

        # Clear empties the text and starts a new session; Stop stops the camera.
        by_id("clear").click()
        wait(5, lambda: text_of("live-text") == "", "#live-text empty after Clear")
        by_id("stop").click()
        wait(5, lambda: driver.execute_script(
            "return document.getElementById('video').srcObject === null"), "the camera stopped after Stop")
        assert by_id("start").get_attribute("disabled") is None, "Start is disabled after Stop"
        sent = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => n.includes('/translate'))")
        resets = [n for n in sent if "/translate/reset?" in n]
        assert len(resets) == 1 and resets[0].split("session=")[1] in ids, f"reset requests {resets}"
        assert len({re.search(r"session=([^&]*)", n).group(1) for n in sent}) <= 2, "more than two sessions"

        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                  and "/predict" not in e.get("message", "")]  # the corrupt upload's 400 is expected
        assert not severe, f"errors in the browser's console: {severe}"
        log(f"passed in {time.time() - started:.1f} s: photo {args.letter}, live {args.word!r} in {live_s:.1f} s")
    except Exception:
        try:
            driver.save_screenshot(args.screenshot)
            log(f"screenshot at the failure: {args.screenshot}")
            for e in driver.get_log("browser"):
                log(f"console: {e.get('level')} {e.get('message')}")
        except Exception as e:  # the browser itself may be gone
            log(f"no screenshot: {e}")
        raise
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pick")
    p.add_argument("predictions")
    p.add_argument("classes", nargs="+")
    p.add_argument("--min-probability", type=float, default=0.8)
    p.set_defaults(run=pick)
    p = sub.add_parser("video")
    p.add_argument("out")
    p.add_argument("photos", nargs="+")
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--hold-s", type=float, default=2.0)
    p.set_defaults(run=video)
    p = sub.add_parser("drive")
    p.add_argument("--url", required=True)
    p.add_argument("--photo", required=True)
    p.add_argument("--letter", required=True)
    p.add_argument("--drop-photo", required=True)
    p.add_argument("--drop-letter", required=True)
    p.add_argument("--corrupt", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--word", required=True)
    p.add_argument("--screenshot", required=True)
    p.add_argument("--live-timeout", type=float, default=60)
    p.set_defaults(run=drive)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
