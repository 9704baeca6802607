"""fastray.wire, the Python side's frame format, agrees with csrc/protocol.h,
which defines it."""
import re
from pathlib import Path

from fastray import wire

PROTOCOL_H = Path(__file__).resolve().parents[1] / "csrc" / "protocol.h"
STRUCT_CODES = {"uint32_t": "I", "uint64_t": "Q"}


def test_the_header_struct_is_protocol_h_s_fr_header() -> None:
    text = PROTOCOL_H.read_text()
    fields = re.search(r"typedef struct \{(.*?)\} fr_header;", text, re.S)
    assert fields is not None, "protocol.h no longer declares fr_header"
    types = re.findall(r"(\w+)\s+\w+;", fields.group(1))
    assert wire.HEADER.format == "<" + "".join(STRUCT_CODES[t] for t in types)
    size = re.search(r"#define FR_HEADER_SIZE (\d+)", text)
    assert size is not None
    assert wire.HEADER.size == int(size.group(1)) == wire.HEADER_SIZE


def test_every_constant_is_protocol_h_s() -> None:
    defined = {name: int(value) for name, value in
               re.findall(r"\bFR_(\w+)\s*=\s*(\d+)", PROTOCOL_H.read_text())}
    exported = {name for name in wire.__all__
                if isinstance(getattr(wire, name), int) and name != "HEADER_SIZE"}
    assert exported == set(defined)
    assert {name: getattr(wire, name) for name in defined} == defined


def test_the_python_side_writes_no_header_of_its_own() -> None:
    """The header's layout is spelled once, in fastray.wire."""
    package = Path(wire.__file__).parent
    spelled = [path.name for path in package.rglob("*.py")
               if wire.HEADER.format in path.read_text()]
    assert spelled == ["wire.py"]
