"""Session-wide accounts for the blog task's hidden tests.

Registering hashes a password, so a handful of accounts is shared by every test; tests stay
independent by creating their own posts and comments and scoping lists with unique tokens
(or with fresh accounts where a test filters by author).
"""

from __future__ import annotations

import httpx
import pytest

from blog_support import Account, new_account


@pytest.fixture(scope="session")
def alice(api: httpx.Client) -> Account:
    return new_account(api, full_name="Alice Author")


@pytest.fixture(scope="session")
def bob(api: httpx.Client) -> Account:
    return new_account(api, full_name="Bob Reader")


@pytest.fixture(scope="session")
def carol(api: httpx.Client) -> Account:
    return new_account(api, full_name="Carol Bystander")


@pytest.fixture(scope="session")
def writers(api: httpx.Client, alice: Account, bob: Account, carol: Account) -> list[Account]:
    """Eight distinct authors, for pages whose posts come from many users."""
    extra = [new_account(api, full_name=f"Writer {index}") for index in range(5)]
    return [alice, bob, carol, *extra]
