"""The notifications API against its own OpenAPI schema: generated requests over real HTTP
never get a 5xx, and every documented answer matches its schema."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OUR_PATHS = ("/api/settings/", "/api/push/", "/api/profiles/", "/api/notifications/")


def test_the_notifications_api_never_errors_and_answers_as_documented(
    asgi_server, alice, settings, link_discord
):
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from rest_framework.authtoken.models import Token
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
    )

    settings.DISCORD_API_URL = "http://127.0.0.1:9/api/v10"  # nothing listens: fails fast
    settings.DISCORD_BOT_TOKEN = "configured"
    link_discord(alice, "42")
    token = Token.objects.create(user=alice).key
    schema = schemathesis.openapi.from_url(f"{asgi_server.url}/api/schema/")
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(OUR_PATHS):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def exercise(case):
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=checks)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together
            failures.append(
                f"{operation.method.upper()} {operation.path}: "
                + "\n".join(str(exc).splitlines()[:10])
            )
    assert operations >= 9
    assert not failures, "\n\n".join(failures)
