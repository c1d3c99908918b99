"""Every physical AWS name, in one place: `lakeward-<env>-<role>`. Glue databases are the layer names
(`staging`, `marts`, `audit`) because the SQL names them; each environment lives in its own account."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Naming:
    env: str
    project: str = "lakeward"

    def _name(self, *parts: str, limit: int = 64) -> str:
        name = "-".join([self.project, self.env, *parts]).replace("_", "-").lower()
        if len(name) > limit:
            raise ValueError(f"physical name '{name}' is longer than {limit} characters")
        return name

    def stack(self) -> str:
        return self._name()

    def bucket(self, role: str, account: str) -> str:
        """Bucket names are global: the account id (a deploy-time token) keeps them unique."""
        return f"{self._name(role, limit=50)}-{account}"

    def function(self, role: str) -> str:
        return self._name(role)

    def job(self, role: str) -> str:
        return self._name(role)

    def state_machine(self, role: str) -> str:
        return self._name(role, limit=80)

    def schedule(self, role: str) -> str:
        return self._name(role)

    def secret(self, source: str) -> str:
        return f"{self.project}/{self.env}/{source}"

    def table(self, role: str) -> str:
        return self._name(role)

    def topic(self, role: str) -> str:
        return self._name(role)

    def workgroup(self) -> str:
        return self._name("analytics")

    def role(self, role: str) -> str:
        return self._name(role)

    def alarm(self, what: str) -> str:
        return self._name(what, limit=255)

    def database(self, layer: str) -> str:
        return layer

    def dashboard(self) -> str:
        return self._name("pipeline")

    def glue_connection(self) -> str:
        return self._name("replica")
