"""The service's routes, one router per resource; :func:`~defectops.serving.app.create_app`
includes them in the order their paths appear in the OpenAPI document."""
