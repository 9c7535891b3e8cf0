"""``docker inspect``'s document for a learner's container: every field the engine sends.

The engine's JSON becomes template values typed as the docker CLI's Go types, so that
``-f`` templates print what Docker prints: objects are structs (fields in the engine's
order) except the Go maps of :data:`MAP_FIELDS` (printed ``map[k:v]``, keys sorted); a
``null`` is the typed nil of its field (a nil map prints ``map[]``, a nil slice ``[]``,
a nil pointer ``<nil>``); the top-level parts reached through pointers are marked so
(``printf "%v" .State`` prints ``&{...}``), and the fields Go's types have but the
engine leaves out (``State.Health``) are there as nils.

What the learner must not see is rewritten by the caller's ``rewrite`` (engine names,
host paths) or left out (the tutor's own labels); the name and mounts are the learner's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox.output.template_values import Nil, Struct

MAP_FIELDS = frozenset({
    "Labels", "Volumes", "ExposedPorts", "PortBindings", "Tmpfs", "StorageOpt", "Sysctls",
    "Annotations", "Ports", "Networks", "DriverOpts", "Data", "Options", "Status",
    "Config.LogConfig",
})
"""Fields that are Go maps (``HostConfig.LogConfig.Config`` is one too, by its path)."""

POINTER_FIELDS = frozenset({
    "Health", "Healthcheck", "MemorySwappiness", "PidsLimit", "OomKillDisable", "Init",
    "IPAMConfig", "Node", "ImageManifestDescriptor", "State", "Config", "HostConfig",
    "NetworkSettings",
})
"""Fields that are Go pointers (a ``null`` one prints ``<nil>``)."""

GO_TYPES = {
    "State": "*container.State", "Config": "*container.Config",
    "HostConfig": "*container.HostConfig", "NetworkSettings": "*container.NetworkSettings",
    "RestartPolicy": "container.RestartPolicy", "LogConfig": "container.LogConfig",
    "GraphDriver": "storage.DriverData",
}
"""Go type names the CLI's ``%T`` and error messages use, by field."""

ABSENT = {
    "": {"SizeRw": Nil("ptr", "*int64", omit=True), "SizeRootFs": Nil("ptr", "*int64", omit=True),
         "ImageManifestDescriptor": Nil("ptr", "*v1.Descriptor", omit=True)},
    "State": {"Health": Nil("ptr", "*container.Health", omit=True)},
    "Config": {"ExposedPorts": Nil("map", "nat.PortSet", omit=True),
               "Healthcheck": Nil("ptr", "*container.HealthConfig", omit=True),
               "Shell": Nil("slice", "strslice.StrSlice", omit=True),
               "StopTimeout": Nil("ptr", "*int", omit=True)},
    "HostConfig": {"Init": Nil("ptr", "*bool", omit=True),
                   "Annotations": Nil("map", omit=True), "Sysctls": Nil("map", omit=True),
                   "StorageOpt": Nil("map", omit=True)},
}
"""Fields the engine leaves out (``omitempty``) that Go's types still have, as their nils."""

TOP_POINTERS = frozenset({"State", "Config", "HostConfig", "NetworkSettings"})


def _typed(value: Any, name: str, path: str, rewrite: Callable[[str], str]) -> Any:
    if value is None:
        if path.endswith("LogConfig.Config"):
            return Nil("map")
        if name in POINTER_FIELDS:
            return Nil("ptr", GO_TYPES.get(name, "*" + name))
        if name in MAP_FIELDS or path.endswith("LogConfig.Config"):
            return Nil("map")
        return Nil("slice")
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, list):
        return [_typed(v, "", f"{path}[]", rewrite) for v in value]
    if not isinstance(value, dict):
        return value
    if name in MAP_FIELDS or path.endswith("LogConfig.Config"):
        return {rewrite(str(k)): _typed(v, "", f"{path}.*", rewrite) for k, v in value.items()}
    fields = Struct({k: _typed(v, k, f"{path}.{k}", rewrite) for k, v in value.items()})
    for extra, nil in ABSENT.get(name, {}).items():
        fields.setdefault(extra, nil)
    return fields.typed(GO_TYPES.get(name, "struct"), pointer=name in TOP_POINTERS
                        and "." not in path.strip("."))


def container_document(attrs: dict[str, Any], *, name: str, image: str,
                       mounts: list[Struct], rewrite: Callable[[str], str]) -> Struct:
    """The learner's ``docker inspect`` object for a container, typed for templates.

    Args:
        attrs: The engine's inspect JSON of the container.
        name: The learner's name for it (without the leading ``/``).
        image: The image name the learner knows.
        mounts: ``Mounts`` as the learner sees them (the workspace as ``$(pwd)``).
        rewrite: Turns engine names and host paths in a string into the learner's.
    """
    doc = Struct()
    for key, value in attrs.items():
        doc[key] = _typed(value, key, key, rewrite)
    for extra, nil in ABSENT[""].items():
        doc.setdefault(extra, nil)
    doc["Name"] = "/" + name
    doc["Mounts"] = mounts
    config = doc.get("Config")
    if isinstance(config, Struct):
        labels = config.get("Labels")
        if isinstance(labels, dict):
            config["Labels"] = {k: v for k, v in labels.items()
                                if not k.startswith("docker-tutor.")}
        config["Image"] = image
    return doc.typed("*container.InspectResponse")


def volume_document(attrs: dict[str, Any], *, name: str, labels: dict[str, str]) -> Struct:
    """The learner's ``docker volume inspect`` object, typed as the CLI's ``volume.Volume``.

    Args:
        attrs: The engine's inspect JSON of the volume.
        name: The learner's name for it.
        labels: Its labels the learner may see.
    """
    doc = Struct(
        ClusterVolume=Nil("ptr", "*volume.ClusterVolume", omit=True),
        CreatedAt=attrs.get("CreatedAt"),
        Driver=attrs.get("Driver"),
        Labels=labels,
        Mountpoint=f"/var/lib/docker/volumes/{name}/_data",
        Name=name,
        Options=attrs.get("Options") or Nil("map"),
        Scope=attrs.get("Scope"),
        Status=attrs.get("Status") or Nil("map", "map[string]interface {}", omit=True),
        UsageData=Nil("ptr", "*volume.UsageData", omit=True),
    )
    return doc.typed("volume.Volume")
