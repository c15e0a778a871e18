"""The offline tools behind `pose-ros run` (run_command, over the frame loop in runner) and
`pose-ros bench` (bench, and the MediaPipe reference run in another Python: bench_reference,
reference_worker). They use the pipeline and the outputs in io/; the node never imports them."""
