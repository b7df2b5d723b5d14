"""The stream worker: the Faust app's wiring, the batch processor, the exactly-once commit, the
invoice numbering stage and the watchdogs that keep partitions moving."""
