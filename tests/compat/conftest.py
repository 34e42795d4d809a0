# The packs under packs/ carry their own tests, run by test_pack_tests.py in a pack process.
collect_ignore = ["packs"]
