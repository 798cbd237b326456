"""What both sides of weight porting share: the error and a model's weights by
layer name. Its own module so that port/__init__.py (which imports port.keras and
port.torch on demand) and those two never import each other in a circle."""
from __future__ import annotations


class PortError(ValueError):
    """Two models whose weights do not correspond."""


class Source:
    """A model's weights by resdsl layer name, handed out in Keras layout.
    Subclasses fill `entries` (their layer name -> layer) and define `find`,
    `kind` (conv|norm|dense), `type_name` and `read`."""

    def __init__(self, entries: dict):
        self.entries, self.used = entries, set()

    def find(self, name: str) -> str | None:
        return name if name in self.entries else None

    def get(self, name: str, kind: str, context: str, geometry=None) -> dict:
        found = self.find(name)
        if found is None:
            raise PortError(f"layer '{name}' does not fit: src has no layer of that name{context}")
        if self.kind(found) != kind:
            raise PortError(f"layer '{name}' does not fit: it is a {kind} in dst but a "
                            f"{self.type_name(found)} in src{context}")
        self.used.add(found)
        return self.read(found, kind, geometry)

    def unused(self) -> list[str]:
        return [n for n in self.entries if n not in self.used]
