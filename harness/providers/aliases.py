"""Model aliases: the short names an agent definition's `model:` uses (`sonnet`, `opus`,
`haiku`, as in the seed's front matter) mapped to concrete model ids, in one table.

An alias follows the newest model of its line; a run records the concrete id it used
(run.json `provider.model`), so old results stay interpretable after the table moves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from harness.core.errors import HarnessError


@dataclass(frozen=True)
class ModelAlias:
    provider: str
    model: str


# As of 2026-11: the current model of each line (ids as in the providers' model lists).
MODEL_ALIASES: dict[str, ModelAlias] = {
    "opus": ModelAlias("anthropic", "claude-opus-5-5"),
    "sonnet": ModelAlias("anthropic", "claude-sonnet-5-5"),
    "haiku": ModelAlias("anthropic", "claude-haiku-5-5"),
    "gpt": ModelAlias("openai", "gpt-5.5"),
    "gpt-mini": ModelAlias("openai", "gpt-5.4-mini"),
}
# Front matter values that express no preference (Claude Code writes `inherit`).
_NO_PREFERENCE = frozenset({"", "inherit", "default"})
# Bare model ids whose provider is plain from the name, e.g. MODEL=claude-sonnet-5-5.
_ID_PREFIXES = (
    ("claude-", "anthropic"),
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
)


def resolve_model_alias(name: str) -> str | None:
    """The concrete model id for an alias, or None if `name` is not an alias."""
    alias = MODEL_ALIASES.get(name.strip().lower())
    return alias.model if alias else None


def model_for(provider: str, argument: str) -> str:
    """The model id a `provider:<argument>` spec asks for: an alias of this provider is
    resolved, an alias of another provider is an error, anything else is an id as given."""
    alias = MODEL_ALIASES.get(argument.strip().lower())
    if alias is None:
        return argument
    if alias.provider != provider:
        raise HarnessError(
            f"model alias {argument!r} is an {alias.provider} model: "
            f"use MODEL={alias.provider}:{argument}"
        )
    return alias.model


def _alias_spec(alias_name: str, origin: str) -> str:
    alias = MODEL_ALIASES.get(alias_name.strip().lower())
    if alias is None:
        known = ", ".join(sorted(MODEL_ALIASES))
        raise HarnessError(f"{origin}: unknown model alias {alias_name!r} (known: {known})")
    return f"{alias.provider}:{alias.model}"


def expand_model_spec(spec: str, agent_model: str | None, providers: Collection[str]) -> str:
    """MODEL as typed -> a `provider:model` spec.

    - `agent`: the model the agent definition's front matter asks for;
    - a bare alias (`sonnet`) or a bare id with a telling prefix (`claude-...`, `gpt-...`);
    - `anthropic:` or `openai:` with nothing after the colon: the agent's alias;
    - `anthropic:sonnet`: the alias resolved, so results name the concrete model.
    Anything else (`reference`, `replay:<dir>`, `openai:gpt-5.5`) is returned as given.
    """
    name, colon, argument = spec.partition(":")
    wanted = (agent_model or "").strip()
    if not colon and name in providers:
        return spec
    if not colon and name == "agent":
        if wanted.lower() in _NO_PREFERENCE:
            raise HarnessError("MODEL=agent: the agent definition names no model (front matter)")
        return _alias_spec(wanted, "the agent definition's model")
    if not colon:
        if spec.strip().lower() in MODEL_ALIASES:
            return _alias_spec(spec, f"MODEL={spec}")
        for prefix, provider in _ID_PREFIXES:
            if spec.startswith(prefix):
                return f"{provider}:{spec}"
        return spec
    if not argument and name in ("anthropic", "openai") and wanted.lower() not in _NO_PREFERENCE:
        expanded = _alias_spec(wanted, "the agent definition's model")
        if not expanded.startswith(f"{name}:"):
            raise HarnessError(
                f"MODEL={spec}: the agent definition asks for {wanted!r}, not an {name} model"
            )
        return expanded
    alias = MODEL_ALIASES.get(argument.strip().lower())
    if alias is not None and alias.provider == name:
        return f"{name}:{alias.model}"  # recorded concretely in run.json and every row
    return spec
