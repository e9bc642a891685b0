"""The prediction service: an HTTP API over the verified champion, hot-swapped when it changes.

``create_app(settings)`` builds a FastAPI app with no module-level state; run it with
``python -m uvicorn --factory defectops.serving.app:app_from_env`` (settings from the
environment, see :class:`~defectops.serving.app.ServeSettings`).
"""

from defectops.serving.app import ServeSettings, app_from_env, create_app

__all__ = ["ServeSettings", "app_from_env", "create_app"]
