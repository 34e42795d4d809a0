"""The imperative shell: services that wire the pure core to storage and runners."""
