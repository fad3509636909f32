#!/usr/bin/python3
"""`joulecast analyze --format html` rendered by a real browser (headless Chromium).

Usage: html_report_test.py JOULECAST SOURCE_DIR

For each case it writes the report, has Chromium parse it (--dump-dom) and checks that the
charts are in the DOM with one bar per costed layer and one segment per kind with a share (the
expected numbers come from the same analysis in --format json), then has Chromium paint it
(--screenshot) and checks that the PNG holds a real picture: many colours, and the colour of
the largest kind over a bar's area. Chromium's noise on stderr is ignored; a non-zero exit or a
missing output fails. A missing Chromium fails too: scripts/install-deps.sh installs it.
Standard library only.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

KIND_COLOURS = {  # KindColour in analyzer/report/report_html.cc
    "conv": "0072b2", "linear": "e69f00", "relu": "009e73", "activation": "56b4e9",
    "norm": "cc79a7", "pool": "d55e00", "elementwise": "c8b400", "dropout": "8c8c8c",
    "shape": "c4c4c4", "other": "6a3d9a",
}
HOSTILE_NAME = "<img src=x onerror=alert(1)> <b>&amp; \"q\" 'q'"
KIND_BAR_PX = 960 * 36  # the stacked bar's size in analyzer/report/svg.cc


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def find_chromium():
    for name in (os.environ.get("JOULECAST_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    fail("chromium not found: this test renders the HTML report in Debian's headless Chromium; "
         "install it with `apt-get install --no-install-recommends chromium` "
         "(scripts/install-deps.sh does), or set JOULECAST_CHROMIUM to its path")


def run(cmd, env=None):
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        fail("timed out after 120 s: " + " ".join(cmd))
    if p.returncode != 0:
        fail("exit %d: %s\n%s" % (p.returncode, " ".join(cmd),
                                  p.stderr.decode(errors="replace")[-3000:]))
    return p.stdout


def chromium(binary, tmp, args, path):
    """Runs headless Chromium on file `path` with a fresh profile; returns its stdout."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp)
    return run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
                "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1"] + args +
               ["file://" + os.path.abspath(path)])


def read_png(path):
    """Decodes an 8-bit, non-interlaced PNG: (width, height, channels, rows of bytearrays)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(path + ": not a PNG")
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        fail(path + ": no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or interlace != 0 or channels is None:
        fail("%s: PNG depth %d, colour type %d, interlace %d not handled" %
             (path, depth, colour, interlace))
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        fail(path + ": image data has the wrong size")
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for x in range(channels, stride):
                line[x] = (line[x] + line[x - channels]) & 255
        elif kind == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif kind == 3:
            for x in range(stride):
                left = line[x - channels] if x >= channels else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif kind == 4:
            for x in range(stride):
                a = line[x - channels] if x >= channels else 0
                b = prev[x]
                c = prev[x - channels] if x >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 255
        elif kind != 0:
            fail("%s: unknown PNG filter %d" % (path, kind))
        rows.append(line)
        prev = line
    return width, height, channels, rows


def check_screenshot(path, colour_of_largest, share_of_largest):
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        fail(path + ": Chromium wrote no screenshot")
    width, height, channels, rows = read_png(path)
    if (width, height) != (1200, 1600):
        fail("%s: %dx%d, expected 1200x1600" % (path, width, height))
    colours, largest = set(), 0
    want = bytes.fromhex(colour_of_largest)
    for line in rows:
        for x in range(0, len(line), channels):
            px = bytes(line[x:x + 3]) if channels >= 3 else bytes(line[x:x + 1]) * 3
            colours.add(px)
            if px == want:
                largest += 1
    # A page of text and charts has thousands of colours (antialiasing); a blank one, one.
    if len(colours) <= 4:
        fail("%s: only %d distinct colours: the page did not paint" % (path, len(colours)))
    # The largest kind's segment covers its share of the stacked bar, less its percentage label
    # and antialiased edges (its layers' bars add more).
    if largest < 0.7 * share_of_largest * KIND_BAR_PX:
        fail("%s: only %d pixels of colour #%s, the largest kind's (%.0f%%): the kind chart did "
             "not paint" % (path, largest, want.hex(), 100 * share_of_largest))
    return len(colours), largest


def expected_counts(joulecast, model, profile_args, env):
    """Costed layers, kinds with a share, and the largest kind with its share, from the same
    analysis as JSON."""
    j = json.loads(run([joulecast, "analyze", model, "--batch", "32", "--format", "json"] +
                       profile_args, env=env))
    layers = sum(1 for layer in j["layers"] if layer["kind"] != "shape")
    if "prediction" in j:
        pred = j["prediction"]
        kinds = [k for k, v in pred["by_kind"].items() if v["energy_j"] > 0]
        segments = len(kinds) + (1 if pred["optimizer_and_overhead"]["energy_j"] > 0 else 0)
        largest = max(kinds, key=lambda k: pred["by_kind"][k]["energy_j"])
        share = pred["by_kind"][largest]["share"]
    else:
        def macs(v):
            w = v["per_batch"]
            return w["macs_fwd"] + w["macs_bwd_input"] + w["macs_bwd_weight"]
        kinds = [k for k, v in j["by_kind"].items() if v["layers"] > 0 and macs(v) > 0]
        segments = len(kinds)
        largest = max(kinds, key=lambda k: macs(j["by_kind"][k]))
        share = macs(j["by_kind"][largest]) / sum(macs(j["by_kind"][k]) for k in kinds)
    return layers, segments, largest, share


def element(dom, svg_id):
    m = re.search(r'<svg[^>]*\bid="%s".*?</svg>' % re.escape(svg_id), dom, re.S)
    if not m:
        fail("the rendered DOM has no <svg id=\"%s\">" % svg_id)
    return m.group(0)


def check_case(joulecast, browser, tmp, name, model, profile_args, env, predicted, shot=True):
    out = os.path.join(tmp, name + ".html")
    run([joulecast, "analyze", model, "--batch", "32", "--format", "html", "-o", out] +
        profile_args, env=env)
    with open(out, encoding="utf-8") as f:
        html = f.read()
    urls = re.findall(r"https?://[^\s\"'<>)]*", html)
    if any(u != "http://www.w3.org/2000/svg" for u in urls):
        fail("%s: an external URL: %s" % (out, sorted(set(urls))))

    layers, segments, largest, share = expected_counts(joulecast, model, profile_args, env)
    dom = chromium(browser, tmp, ["--dump-dom"], out).decode("utf-8", errors="replace")
    kind_id, layer_id = ("kind-share", "layer-energy") if predicted else ("kind-macs", "layer-macs")
    kind_svg, layer_svg = element(dom, kind_id), element(dom, layer_id)
    got_segments = len(re.findall(r'class="segment"', kind_svg))
    got_bars = len(re.findall(r'class="bar"', layer_svg))
    if got_segments != segments:
        fail("%s: %d segments in #%s, expected %d" % (name, got_segments, kind_id, segments))
    if got_bars != layers:
        fail("%s: %d bars in #%s, expected %d" % (name, got_bars, layer_id, layers))
    shares = [float(s) for s in re.findall(r'data-share="([0-9.]+)"', kind_svg)]
    if abs(sum(shares) - 1) > 1e-4:
        fail("%s: shares sum to %g, not 1" % (name, sum(shares)))
    for text in (["Estimated, not measured", "Hardware profile"] if predicted
                 else ["No prediction was made"]):
        if text not in dom:
            fail("%s: the rendered page lacks %r" % (name, text))

    if not shot:
        print("ok %s: %d segments, %d bars" % (name, got_segments, got_bars))
        return dom
    png = os.path.join(tmp, name + ".png")
    chromium(browser, tmp, ["--screenshot=" + png, "--window-size=1200,1600"], out)
    colours, pixels = check_screenshot(png, KIND_COLOURS[largest], share)
    print("ok %s: %d segments, %d bars; screenshot %d colours, %d px of %s" %
          (name, got_segments, got_bars, colours, pixels, largest))
    return dom


def main():
    if len(sys.argv) != 3:
        fail("usage: html_report_test.py JOULECAST SOURCE_DIR")
    joulecast, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    browser = find_chromium()
    tmp = tempfile.mkdtemp(prefix="joulecast-html-")
    profile = ["--profile", os.path.join(source, "data", "profiles", "default.json")]
    env = dict(os.environ)
    # No default profile: the report shows the cost analysis only.
    bare_env = dict(os.environ, JOULECAST_DATA_DIR=os.path.join(tmp, "no-data"))
    os.chdir(source)  # the reports name models by relative path
    try:
        check_case(joulecast, browser, tmp, "resnet_small", "models/resnet_small.json", profile,
                   env, True)
        check_case(joulecast, browser, tmp, "simplecnn", "models/simplecnn.json", profile, env, True)
        check_case(joulecast, browser, tmp, "simplecnn_costs", "models/simplecnn.json", [],
                   bare_env, False)
        # A model name that would be markup if it were not escaped stays text in the browser.
        hostile = os.path.join(tmp, "hostile.json")
        with open(hostile, "w") as f:
            json.dump({"name": HOSTILE_NAME, "input": {"shape": [1, 8, 8]}, "layers": [
                {"op": "conv2d", "out_channels": 4, "kernel": 3}, {"op": "relu"},
                {"op": "flatten"}, {"op": "linear", "out_features": 2}]}, f)
        dom = check_case(joulecast, browser, tmp, "hostile", hostile, [], bare_env, False,
                         shot=False)
        if "<img" in dom or "<b>" in dom or "&lt;img src=x onerror=alert(1)&gt;" not in dom:
            fail("hostile: the model name became markup in the rendered page")
    finally:
        if os.environ.get("JOULECAST_KEEP_HTML_TEST"):
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
