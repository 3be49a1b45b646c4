"""Which top-level statements are environment setup (``rewriter.setup``).

Each case is a small module: every statement but the last is read first (the
imports that give names their meaning), and the last one is judged. The
spellings are the ones people write (issue 12): attribute chains, aliases,
``from`` imports, ``__import__``, ``try/except ImportError`` and ``if`` on an
environment variable; and the lookalikes that change nothing.
"""

from __future__ import annotations

import ast

import pytest

from rewriter.setup import SetupRecognizer

SETUP = {
    "environ item": ("import os", 'os.environ["A"] = "1"'),
    "environ setdefault": ("import os", 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "s")'),
    "environ alias": ("from os import environ as env", 'env.update({"A": "1"})'),
    "environ or-assign": ("import os", 'os.environ |= {"A": "1"}'),
    "environ delete": ("import os", 'del os.environ["A"]'),
    "putenv": ("import os as o", 'o.putenv("A", "1")'),
    "dotenv bare": ("from dotenv import load_dotenv", "load_dotenv()"),
    "dotenv path": ("import dotenv", "dotenv.load_dotenv(ENV_FILE)"),
    "dotenv tested": ("from dotenv import load_dotenv", "if not load_dotenv(path):\n    pass"),
    "dotenv values": (
        "import os\nfrom dotenv import dotenv_values",
        "os.environ.update(dotenv_values())",
    ),
    "dotenv assigned": ("from dotenv import find_dotenv", "found = find_dotenv()"),
    "sys.path insert": ("import sys", 'sys.path.insert(0, "/opt/vendor")'),
    "sys.path add": ("import sys", 'sys.path += ["/opt/vendor"]'),
    "addsitedir": ("import site", 'site.addsitedir("/opt/vendor")'),
    "gevent from": ("from gevent import monkey", "monkey.patch_all()"),
    "gevent dotted": ("import gevent.monkey", "gevent.monkey.patch_all()"),
    "gevent one module": ("from gevent.monkey import patch_socket", "patch_socket()"),
    "gevent __import__": ("", '__import__("gevent.monkey").monkey.patch_all()'),
    "gevent try": (
        "",
        "try:\n    from gevent import monkey\n    monkey.patch_all()\n"
        "except ImportError:\n    pass",
    ),
    "gevent if env": (
        "import os",
        'if os.environ.get("USE_GEVENT"):\n    from gevent import monkey\n    monkey.patch_all()',
    ),
    "eventlet": ("import eventlet", "eventlet.monkey_patch()"),
    "eventlet patcher": ("from eventlet import patcher", "patcher.monkey_patch(all=True)"),
}

NOT_SETUP = {
    "environ read": ("import os", 'DEBUG = os.environ.get("DEBUG")'),
    "environ copy": ("import os", "env = dict(os.environ)"),
    "sys.path read": ("import sys", "first = sys.path[0]"),
    "gevent original": (
        "from gevent.monkey import get_original",
        'get_ident = get_original("_thread", "get_ident")',
    ),
    "gevent query": ("from gevent import monkey", 'patched = monkey.is_module_patched("socket")'),
    "eventlet original": ("from eventlet import patcher", 'socket = patcher.original("socket")'),
    "in a function": (
        "from gevent import monkey",
        "def start():\n    monkey.patch_all()",
    ),
    "a local name": ("", "def load_dotenv():\n    pass\nload_dotenv()"),
}


def _judge(before: str, statement: str) -> frozenset[str] | None:
    recognizer = SetupRecognizer()
    for earlier in ast.parse(before).body:
        recognizer.recognise(earlier)
    *others, last = ast.parse(statement).body
    for earlier in others:
        recognizer.recognise(earlier)
    setup = recognizer.recognise(last)
    return None if setup is None else frozenset(setup.kinds)


@pytest.mark.parametrize(("before", "statement"), SETUP.values(), ids=SETUP.keys())
def test_setup_is_recognised_in_every_spelling(before: str, statement: str) -> None:
    assert _judge(before, statement) is not None


@pytest.mark.parametrize(("before", "statement"), NOT_SETUP.values(), ids=NOT_SETUP.keys())
def test_what_changes_nothing_is_not_setup(before: str, statement: str) -> None:
    assert _judge(before, statement) is None


def test_each_kind_is_named() -> None:
    assert _judge("import os", 'os.environ["A"] = "1"') == {"environment"}
    assert _judge("import sys", "sys.path.append('x')") == {"path"}
    assert _judge("from gevent import monkey", "monkey.patch_all()") == {"patch"}
