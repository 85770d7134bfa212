"""Plain text of a message body for ``body_text``: line breaks kept, no markup, no footnotes."""
import re

from lxml import html as lxml_html

BLOCKS = {"p", "div", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}


def html_to_text(body):
    if not body or not str(body).strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(str(body), create_parent="div")
    except Exception:  # not HTML at all: keep it as is
        return str(body).strip()
    for node in root.iter("br"):
        node.tail = "\n" + (node.tail or "")
    for node in root.iter(*BLOCKS):
        node.tail = "\n" + (node.tail or "")
    for node in root.iter("script", "style"):
        node.drop_tree()
    text = root.text_content()
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)
