"""Helpers of the console tests (a module of its own name: ``conftest`` is ambiguous when
several test folders put theirs on ``sys.path``)."""

from __future__ import annotations

import re

import httpx

PASSWORD = "correct horse battery"
USERS = {"asha": "P1", "bina": "P2"}
CSRF = re.compile(r'name="(csrf_token|login_token)" value="([^"]*)"')


def token(html: str, name: str = "csrf_token") -> str:
    for found, value in CSRF.findall(html):
        if found == name:
            return value
    raise AssertionError(f"no {name} in the page")


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD,
                  address: str | None = None) -> httpx.Response:
    page = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"username": username, "password": password,
              "login_token": token(page.text, "login_token"), "next": "/console/orders"},
    )
