"""The fixed documents of the httpbin catalog: /html, /json, /xml, /robots.txt, /deny,
/encoding/utf8, /forms/post and the images. Built once at import; pure (no aiohttp).

The texts are our own (Moby-Dick is in the public domain); the /json and /xml slideshow has
httpbin's structure, because assertions look into it. The images are 16×16 pictures the
project made (`httpbin_images/`: PNG written with zlib, JPEG with cjpeg, WebP with cwebp,
SVG by hand); Pillow would be a heavy dependency for four files.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

HTML = (
    "<!DOCTYPE html>\n<html>\n  <head>\n  </head>\n  <body>\n"
    "      <h1>Herman Melville - Moby-Dick</h1>\n\n      <div>\n        <p>\n"
    "          Call me Ishmael. Some years ago—never mind how long precisely—having little or no\n"
    "          money in my purse, and nothing particular to interest me on shore, I thought I\n"
    "          would sail about a little and see the watery part of the world. It is a way I have\n"
    "          of driving off the spleen and regulating the circulation.\n"
    "        </p>\n      </div>\n  </body>\n</html>\n"
).encode()

SLIDESHOW = {
    "slideshow": {
        "author": "Yours Truly",
        "date": "date of publication",
        "slides": [
            {"title": "Wake up to WonderWidgets!", "type": "all"},
            {
                "items": [
                    "Why <em>WonderWidgets</em> are great",
                    "Who <em>buys</em> WonderWidgets",
                ],
                "title": "Overview",
                "type": "all",
            },
        ],
        "title": "Sample Slide Show",
    }
}

JSON = json.dumps(SLIDESHOW, indent=2).encode() + b"\n"

XML = b"""<?xml version='1.0' encoding='us-ascii'?>

<!--  A SAMPLE set of slides  -->

<slideshow
    title="Sample Slide Show"
    date="Date of publication"
    author="Yours Truly"
    >

    <!-- TITLE SLIDE -->
    <slide type="all">
      <title>Wake up to WonderWidgets!</title>
    </slide>

    <!-- OVERVIEW -->
    <slide type="all">
        <title>Overview</title>
        <item>Why <em>WonderWidgets</em> are great</item>
        <item/>
        <item>Who <em>buys</em> WonderWidgets</item>
    </slide>

</slideshow>
"""

ROBOTS_TXT = b"User-agent: *\nDisallow: /deny\n"

DENY = b"""
          .-''''''-.
        .' _      _ '.
       /   O      O   \\
      :                :
      |                |
      :       __       :
       \\  .-"`  `"-.  /
        '.          .'
          '-......-'
     YOU SHOULDN'T BE HERE
"""

UTF8 = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>UTF-8 demo</title></head>\n'
    "<body><h1>Unicode Demo</h1>\n<pre>\n"
    "Mathematics:  ∮ E⋅da = Q,  n → ∞, ∑ f(i) = ∏ g(i), ∀x∈ℝ: ⌈x⌉ = −⌊−x⌋\n"
    "Greek:        Σὲ γνωρίζω ἀπὸ τὴν κόψη\n"
    "Russian:      Зарегистрируйтесь сейчас на Десятую Международную Конференцию\n"
    "Georgian:     გთხოვთ ახლავე გაიაროთ რეგისტრაცია\n"
    "Thai:         ๏ แผ่นดินฮั่นเสื่อมโทรมแสนสังเวช\n"
    "Amharic:      ሰማይ አይታረስ ንጉሥ አይከሰስ።\n"
    "Runes:        ᚻᛖ ᚳᚹᚫᚦ ᚦᚫᛏ ᚻᛖ ᛒᚢᛞᛖ ᚩᚾ ᚦᚫᛗ\n"
    "Braille:      ⡌⠁⠧⠑ ⠼⠁⠒  ⡍⠜⠇⠑⠹⠰⠎ ⡣⠕⠌\n"
    "Japanese:     いろはにほへとちりぬるを\n"
    "Emoji:        🙂 🚀 ✅\n"
    "</pre></body></html>\n"
).encode()

FORMS_POST = (
    '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"><title>Order a pizza</title></head>\n'
    '<body>\n<form method="post" action="/post">\n'
    '<p><label>Customer name: <input name="custname"></label></p>\n'
    '<p><label>Telephone: <input type=tel name="custtel"></label></p>\n'
    '<p><label>E-mail address: <input type=email name="custemail"></label></p>\n'
    "<fieldset><legend> Pizza Size </legend>\n"
    + "".join(
        f'<p><label> <input type=radio name=size value="{v}"> {html.escape(v.title())} </label></p>\n'
        for v in ("small", "medium", "large")
    )
    + "</fieldset>\n<fieldset><legend> Pizza Toppings </legend>\n"
    + "".join(
        f'<p><label> <input type=checkbox name="topping" value="{v}"> {v.title()} </label></p>\n'
        for v in ("bacon", "cheese", "onion", "mushroom")
    )
    + "</fieldset>\n"
    '<p><label>Preferred delivery time: <input type=time min="11:00" max="21:00" step="900" '
    'name="delivery"></label></p>\n'
    '<p><label>Delivery instructions: <textarea name="comments"></textarea></label></p>\n'
    "<p><button>Submit order</button></p>\n</form>\n</body>\n</html>\n"
).encode()

_IMAGES_DIR = Path(__file__).parent / "httpbin_images"

# name → (media type, bytes); read once at import (≈ 830 bytes in all).
IMAGES: dict[str, tuple[str, bytes]] = {
    name: (media, (_IMAGES_DIR / f"image.{name}").read_bytes())
    for name, media in (
        ("png", "image/png"),
        ("jpeg", "image/jpeg"),
        ("webp", "image/webp"),
        ("svg", "image/svg+xml"),
    )
}
