"""Where models live: the local artifact tree, with a checksum on every model file.

The registry is the only module that knows the layout::

    artifacts/
      incremental_models/model_07/model_chunk_07.joblib   every model of the last run
      incremental_models/model_07/metadata.json            its metrics, decision and lineage
      production/model_chunk_07.joblib                     the champion (a copy)
      production/feature_schema.json                       the columns it expects
      production/metadata.json                             written last: the commit point

Model files are pickles (joblib): loading one runs code, so they must come from a registry you
trust. Every load verifies the file's sha256 against the value recorded when it was written and
refuses a file that does not match.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import Future
from functools import cached_property
from pathlib import Path
from typing import Any

from defectops.core import atomic, failpoints
from defectops.core.background import in_background
from defectops.core.config import Settings
from defectops.core.errors import IntegrityError, UserError
from defectops.core.layout import METADATA, MODELS_DIR, SCHEMA, Layout
from defectops.evaluation.records import ModelRecord, model_record
from defectops.registry.history import append_history, previous_champion, read_history
from defectops.registry.model_files import dump_model, file_sha256, load_verified
from defectops.registry.tracking import CHALLENGER, CHAMPION, Tracker


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: not found") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None


class LocalRegistry:
    """The artifact tree under one directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.layout = Layout(self.root)

    @property
    def models_dir(self) -> Path:
        return self.layout.models_dir

    @property
    def production_dir(self) -> Path:
        return self.layout.production_dir

    def model_dir(self, chunk_id: int, width: int = 2) -> Path:
        return self.layout.model_dir(chunk_id, width)

    def save(self, model: Any, metadata: ModelRecord, *, width: int = 2) -> ModelRecord:
        """Write one chunk's model and metadata; returns the metadata with file and sha256 added."""
        chunk_id = int(metadata["chunk_id"])
        directory = self.model_dir(chunk_id, width)
        name = self.layout.model_file(chunk_id, width)
        path = atomic.write_with(directory / name, lambda tmp: dump_model(model, tmp))
        stored: ModelRecord = {**metadata, "model_file": name, "model_sha256": file_sha256(path)}
        atomic.write_json(directory / METADATA, stored)
        return stored

    def archive_models(self, label: str) -> Path | None:
        """Start a back-fill afresh without deleting anything: the chunk models before it move,
        in one rename, to ``previous_runs/<label>/incremental_models`` (their MLflow versions
        stay as they are). Returns where they went, or None when there were none."""
        if not self.models_dir.exists():
            return None
        base = self.layout.previous_runs_dir / label
        target, n = base, 1
        while target.exists():
            n += 1
            target = base.with_name(f"{label}-{n}")
        target.mkdir(parents=True)
        destination = target / MODELS_DIR
        os.replace(self.models_dir, destination)
        return destination

    def set_production(self, source: Path, metadata: ModelRecord, schema: dict[str, Any]) -> None:
        """Copy a verified model into ``production/``; metadata.json is written last (commit point).

        ``source`` is the model file: a chunk model of this tree, or one downloaded from MLflow.
        """
        if file_sha256(source) != metadata["model_sha256"]:
            raise IntegrityError(
                f"model file {source} does not match its recorded sha256; refusing to promote it"
            )
        self.production_dir.mkdir(parents=True, exist_ok=True)
        target = self.production_dir / metadata["model_file"]
        atomic.write_with(target, lambda tmp: shutil.copyfile(source, tmp))
        if file_sha256(target) != metadata["model_sha256"]:
            raise IntegrityError(f"{source}: checksum changed while copying to production")
        atomic.write_json(self.production_dir / SCHEMA, schema)
        atomic.write_json(self.production_dir / METADATA, metadata)
        for stale in self.production_dir.glob("*.joblib"):
            if stale.name != metadata["model_file"]:
                stale.unlink(missing_ok=True)

    def champion_metadata(self) -> ModelRecord | None:
        path = self.production_dir / METADATA
        return model_record(read_json(path)) if path.exists() else None

    def champion_schema(self) -> dict[str, Any]:
        return read_json(self.production_dir / SCHEMA)

    def load_champion(self) -> tuple[Any, ModelRecord]:
        """The verified champion and its metadata, or a UserError saying how to get one."""
        metadata = self.champion_metadata()
        if metadata is None:
            raise UserError(
                f"no champion in {self.production_dir}; run `defectops run` first "
                f"or pass --artifacts pointing at a trained project"
            )
        return load_verified(self.production_dir / metadata["model_file"], metadata), metadata


class ModelRegistry:
    """MLflow's registered model plus the local tree, kept in step, with the alias history.

    The ``champion`` alias in MLflow is the truth; ``production/`` is a verified local copy of
    that version, and every alias change is appended to the history.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.local = LocalRegistry(settings.artifacts)
        self._opening: Future[Tracker] | None = None

    def open_in_background(self) -> None:
        """Open the MLflow store on a thread now, for a caller about to fit: the store costs
        about a second, and the fit leaves the GIL free for it."""
        if self._opening is None and "tracker" not in self.__dict__:
            self._opening = in_background(lambda: Tracker(self.settings), name="open-tracker")

    @cached_property
    def tracker(self) -> Tracker:
        # opened on first use: MLflow's import and store cost seconds the local tree never needs
        if self._opening is not None:
            return self._opening.result()
        return Tracker(self.settings)

    def crown(
        self,
        version: str,
        metadata: ModelRecord,
        source_dir: Path,
        *,
        reason: str,
        action: str,
    ) -> bool:
        """Make ``version`` the champion: local tree, alias, history. Idempotent.

        Returns True when the champion changed.
        """
        current = self.tracker.alias_version(CHAMPION)
        production = self.local.champion_metadata()
        schema = read_json(source_dir / SCHEMA)
        stored: ModelRecord = {**metadata, "version": version}
        if production is None or str(production.get("version")) != version:
            self.local.set_production(source_dir / metadata["model_file"], stored, schema)
        if current != version:
            self.tracker.set_alias(CHAMPION, version)
        failpoints.reached("crown:after-alias")
        # record unless the history already has it (a crash can fall between alias and record)
        recorded = [e for e in read_history(self.settings.artifacts) if e["alias"] == CHAMPION]
        last = str(recorded[-1]["to_version"]) if recorded else None
        if last == version:
            self._mirror_history()  # the crash may also have come before the tag was set
            return False
        self._record(
            CHAMPION, current if current != version else last, version, reason=reason, action=action
        )
        return True

    def mark_challenger(self, version: str) -> None:
        """The newest rejected model carries the ``challenger`` alias.

        Set without reading it first: setting an alias to the version it names already changes
        nothing, and no history records the challenger.
        """
        self.tracker.set_alias(CHALLENGER, version)

    def promote(self, version: str, reason: str, *, action: str = "promote") -> ModelRecord:
        """Make any registered version champion (manual override, still recorded)."""
        known = {v.version: v for v in self.tracker.versions()}
        if version not in known:
            listed = ", ".join(known) or "none"
            raise UserError(
                f"version {version} of {self.settings.registered_model} does not exist "
                f"(versions: {listed}); see `defectops models`"
            )
        with tempfile.TemporaryDirectory(dir=self.settings.artifacts) as tmp:
            source = self.tracker.download_model(version, Path(tmp))
            metadata = model_record(read_json(source / METADATA))
            expected = known[version].tags.get("model_sha256")
            if expected and expected != metadata.get("model_sha256"):
                raise IntegrityError(
                    f"version {version}: metadata sha256 does not match the registry tag"
                )
            load_verified(source / metadata["model_file"], metadata)  # refuses a tampered file
            self.crown(version, metadata, source, reason=reason, action=action)
        return {**metadata, "version": version}

    def rollback(self, reason: str) -> ModelRecord:
        """Back to the previous champion (by the history); rolling back twice goes two back."""
        current = self.tracker.alias_version(CHAMPION)
        target = previous_champion(read_history(self.settings.artifacts), current)
        if target is None:
            raise UserError("no previous champion to roll back to; see `defectops history`")
        return self.promote(target, reason, action="rollback")

    def sync_production(self) -> None:
        """Make ``production/`` match the ``champion`` alias (after a crash between the two)."""
        version = self.tracker.alias_version(CHAMPION)
        production = self.local.champion_metadata()
        if version is not None and (
            production is None or str(production.get("version")) != version
        ):
            with tempfile.TemporaryDirectory(dir=self.settings.artifacts) as tmp:
                source = self.tracker.download_model(version, Path(tmp))
                metadata = model_record(read_json(source / METADATA))
                self.local.set_production(
                    source / metadata["model_file"],
                    {**metadata, "version": version},
                    read_json(source / SCHEMA),
                )

    def _record(self, alias: str, old: str | None, new: str, *, reason: str, action: str) -> None:
        entry = append_history(
            self.settings.artifacts,
            {
                "alias": alias,
                "from_version": old,
                "to_version": new,
                "from_chunk": self.tracker.chunk_of(old) if old else None,
                "to_chunk": self.tracker.chunk_of(new),
                "reason": reason,
                "action": action,
            },
        )
        self.tracker.set_model_tag(_history_tag(entry), json.dumps(entry))

    def _mirror_history(self) -> None:
        """Set the MLflow tag of every history entry that lacks one."""
        present = self.tracker.model_tags()
        for entry in read_history(self.settings.artifacts):
            if _history_tag(entry) not in present:
                self.tracker.set_model_tag(_history_tag(entry), json.dumps(entry))


def _history_tag(entry: dict[str, Any]) -> str:
    return f"history.{entry['seq']:06d}"
