"""One module per negative sampler. Each defines its `SamplerKind` subclass and exports `KINDS`, the kinds it
registers; `sampling/registry.py` lists the modules (adding a sampler: its module, one line there, its test)."""
