"""The redaction set holds a secret while its owner lives, then for a bounded grace."""

from __future__ import annotations

import gc

from scalekit_langchain import _redact


class Owner:
    """Stands for a session or a cached instance."""


def test_an_owned_secret_leaves_after_its_owner_and_a_bounded_grace() -> None:
    owner = Owner()
    held = _redact.held_secret_count()
    _redact.register_secret("owned-secret-value-0001", owner=owner)
    _redact.register_secret("owned-secret-value-0001", owner=owner)  # two holders
    assert _redact.held_secret_count() == held + 1
    assert _redact.redact("x owned-secret-value-0001 y") == "x *** y"
    del owner
    gc.collect()
    assert _redact.held_secret_count() == held
    # Still cleaned for a while (an error echoing a token just replaced)...
    assert _redact.redact("owned-secret-value-0001") == "***"
    # ...until RECENTLY_RELEASED later releases push it out.
    for i in range(_redact.RECENTLY_RELEASED):
        release = _redact.register_secret(f"later-secret-{i:06d}", owner=Owner())
        assert release is not None  # the owner is already gone: released at once
    assert _redact.redact("owned-secret-value-0001") == "owned-secret-value-0001"
    total = _redact.secret_count()
    for i in range(1000):
        _redact.register_secret(f"even-later-secret-{i:06d}", owner=Owner())
    assert _redact.secret_count() == total  # the grace ring turns over, it does not grow


def test_an_explicit_release_and_permanent_secrets() -> None:
    owner = Owner()
    release = _redact.register_secret("explicit-secret-0002", owner=owner)
    assert release is not None
    held = _redact.held_secret_count()
    release()
    release()  # idempotent
    assert _redact.held_secret_count() == held - 1
    assert _redact.register_secret("permanent-secret-0003") is None
    assert _redact.register_secret("short") is None  # under 8 characters: not a secret
    assert _redact.redact("permanent-secret-0003 short") == "*** short"
