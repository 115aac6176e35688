"""Wire-level conformance cases after the Autobahn|Testsuite (see
docs/conformance.md), shared by tests/interop/test_wire_server.py and
tests/interop/test_wire_client.py."""
