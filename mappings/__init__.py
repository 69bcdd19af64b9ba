"""The mapping engine: how a canonical document becomes a target's payload, as data.

Imports go one way, down this list:
- `values`: table keys, typed values, and the document as JMESPath sees it and as it is stored;
- `spec`: a parsed mapping (`MappingSpec`), its problems and the errors carrying them;
- `parse`: a mapping document (YAML or JSON) read, checked and compiled; its format is described there;
- `evaluate`: a parsed mapping applied to one document;
- `diff`: two versions of a mapping document compared;
- `defaults`: the default mapping shipped for each connector type.

Everything here is pure: no Flask, no database, nothing of `hub` or `connectors`.
"""
