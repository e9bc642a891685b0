"""Before the service starts: fetch the champion from an MLflow tracking server.

The service reads its model only from ``artifacts/production/`` (verified, hot-swapped). A
container that is given nothing but ``DEFECTOPS_TRACKING_URI`` (the production topology: MLflow
server on PostgreSQL, models in its artifact store) has an empty ``production/``, so
``defectops serve`` first copies the version that carries the ``champion`` alias there, with the
same checksum checks as ``defectops promote``. A later champion is picked up by restarting the
service (or ``defectops promote``/``rollback`` run against the same artifact directory).
"""

from __future__ import annotations

from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.registry.local import ModelRegistry
from defectops.registry.tracking import CHAMPION


def fetch_champion(settings: Settings) -> str:
    """Make ``production/`` hold the tracking server's champion; returns a line for the log.

    Without a champion in MLflow yet, the service still starts (``/ready`` answers 503 until a
    champion appears in ``production/``). When the server cannot be reached, a champion already in
    ``production/`` (baked into the image) is served; with none, a :class:`UserError` says so.
    """
    from mlflow.exceptions import MlflowException

    uri = settings.resolved_tracking_uri
    settings.artifacts.mkdir(parents=True, exist_ok=True)
    registry = ModelRegistry(settings)
    name = settings.registered_model
    try:
        try:
            aliases = dict(registry.tracker.client.get_registered_model(name).aliases or {})
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            aliases = {}
        version = aliases.get(CHAMPION)
        if version is None:
            return (
                f"no {CHAMPION} alias on {name} in {uri} yet; /ready answers 503 until a "
                f"champion is in {registry.local.production_dir}"
            )
        registry.sync_production()
    except (MlflowException, OSError) as exc:
        local = registry.local.champion_metadata()
        problem = f"cannot fetch the champion of {name} from {uri}: {_first_line(exc)}"
        if local is None:
            raise UserError(f"{problem}; check DEFECTOPS_TRACKING_URI and the server") from None
        return f"warning: {problem}; serving version {local.get('version')} found in production/"
    return f"champion: version {version} of {name} from {uri}, in {registry.local.production_dir}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
