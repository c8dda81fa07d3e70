"""WSGI entry point: ``gunicorn -w 4 wsgi:app`` (run `canary scheduler` separately)."""

from canary.web import create_app

app = create_app()
