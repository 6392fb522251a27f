"""What an edit asks for, as data: the new dataset's episodes, each a slice of one source episode.

Every operation (delete, trim, split, merge) is a list of `Take`s; one builder writes any such list. Each
new episode goes to a file derived from its source episode's file (`FileKey`): the takes of one source
file stay together in one new file, so packing is never worse than the source's, and a file whose every
episode is kept whole, in order and (for data) with the same numbers, is hard-linked instead of rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dataprep.edit.source import EditError, SourceDataset, SourceEpisode
from dataprep.lerobot.packing import FileRef, next_file


@dataclass(frozen=True)
class Take:
    """Frames [start, stop) of one source episode become one new episode."""

    source: SourceDataset
    episode: SourceEpisode
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop == self.episode.length


FileKey = tuple[int, FileRef]  # (position of the source among the edit's sources, its (chunk, file))


def whole_episodes(source: SourceDataset, indices: Sequence[int]) -> list[Take]:
    return [Take(source, ep, 0, ep.length) for ep in (source.episode(i) for i in indices)]


def check_takes(takes: Sequence[Take]) -> None:
    if not takes:
        raise EditError("the edit would leave no episode; a LeRobot dataset needs at least one")
    for take in takes:
        if not 0 <= take.start < take.stop <= take.episode.length:
            raise EditError(
                f"{take.source.root}: frames {take.start}:{take.stop} are not a non-empty part of episode "
                f"{take.episode.index} (frames 0:{take.episode.length})"
            )


def assign_files(keys: Sequence[FileKey], chunks_size: int) -> list[FileRef]:
    """New (chunk, file) per take: one new file per distinct source file, numbered in order of appearance.

    With one source whose files keep their order, a file keeps its own name when nothing before it was
    dropped; numbering is always dense from (0, 0), as lerobot's writer numbers files.
    """
    names: dict[FileKey, FileRef] = {}
    current: FileRef | None = None
    for key in keys:
        if key not in names:
            current = (0, 0) if current is None else next_file(current, chunks_size)
            names[key] = current
    return [names[key] for key in keys]
