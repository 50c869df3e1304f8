"""Reading a deposit's XML as a stream: each top-level element of `<rde:contents>` and
`<rde:deletes>` is handed over once parsed and then freed, so a deposit of any size is read
in constant memory. With `validate`, the RDE schemas are checked as it is parsed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from lxml import etree

from domreg.escrow import model as m
from domreg.escrow import schema


@dataclass
class Envelope:
    """What a deposit says about itself (filled in as the stream is read)."""

    type: str = ""
    id: str = ""
    watermark: str = ""
    menu: list[str] = field(default_factory=list)
    tld: str = ""
    counts: dict[str, int] = field(default_factory=dict)


RD = "{" + m.RDE + "}"
HD = "{" + m.HEADER + "}"


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0]


def read(fh: IO[bytes], envelope: Envelope, validate: bool = False) -> Iterator[tuple[str, Any]]:
    """Yield ("content" | "delete", element) for every object of the deposit; the header and
    the envelope fields go into `envelope`. Raises `DepositError` for malformed or (with
    `validate`) schema-invalid XML."""
    kwargs: dict[str, Any] = {"schema": schema.schema()} if validate else {}
    parser = etree.iterparse(
        fh,
        events=("start", "end"),
        huge_tree=True,
        resolve_entities=False,
        no_network=True,
        **kwargs,
    )
    depth = 0
    section = ""
    try:
        for event, el in parser:
            if event == "start":
                depth += 1
                if depth == 1:
                    if el.tag != RD + "deposit":
                        raise m.DepositError(f"not an RDE deposit: root element {el.tag}")
                    envelope.type, envelope.id = el.get("type", ""), el.get("id", "")
                elif depth == 2:
                    section = el.tag
                continue
            depth -= 1
            if depth == 1:
                if el.tag == RD + "watermark":
                    envelope.watermark = (el.text or "").strip()
                elif el.tag == RD + "rdeMenu":
                    envelope.menu = [(u.text or "").strip() for u in el.iter(RD + "objURI")]
                el.clear()
            elif depth == 2 and section in (RD + "contents", RD + "deletes"):
                if el.tag == HD + "header":
                    envelope.tld = (el.findtext(HD + "tld") or "").strip()
                    envelope.counts = {
                        c.get("uri", ""): int((c.text or "0").strip())
                        for c in el.iter(HD + "count")
                    }
                elif section == RD + "contents":
                    yield "content", el
                elif section == RD + "deletes":
                    yield "delete", el
                el.clear(keep_tail=False)
                parent = el.getparent()
                while parent is not None and el.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise m.DepositError(f"deposit XML: {exc}") from None
    except etree.DocumentInvalid as exc:
        raise m.DepositError(f"deposit does not validate against the RDE schemas: {exc}") from None
