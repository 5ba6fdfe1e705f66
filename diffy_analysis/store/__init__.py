"""Elasticsearch as Diffy's scale-out store (docs/elasticsearch.md).

Modules, in the order data flows through them:

* ``connection``: URL, credentials (env or secret file, never echoed), TLS, the client;
* ``mapping`` and ``indices``: index names, versioned templates with fixed mappings, column mappings;
* ``documents``: runs, hosts, rows and analyses as bulk actions with deterministic ids;
* ``fingerprints``: normalized row fingerprints, the same the analysis computes;
* ``bulk`` and ``indexer``: chunked bulk indexing with retries and honest counts;
* ``readback``: stored runs back into the loader's dataclasses (``EsResults``);
* ``stacking``: row prevalence counted by composite aggregations;
* ``analysis``: the analysis with the store as source or destination.

Importing this package imports nothing else (the client is loaded when a cluster is used).
"""
