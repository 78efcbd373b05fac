"""Run every benchmark: ``python -m benchmarks`` (or ``make bench``)."""

from benchmarks import (bench_api, bench_build, bench_cf, bench_cold_ceiling, bench_distributed, bench_endtoend,
                        bench_families, bench_growth, bench_links, bench_new_doctors, bench_people, bench_safety,
                        bench_stacking, bench_synth)

if __name__ == "__main__":
    bench_build.main([])
    bench_synth.main([])
    bench_links.main([])
    bench_families.main([])
    bench_stacking.main([])
    bench_cf.main([])
    bench_people.main([])
    bench_cold_ceiling.main([])
    bench_safety.main([])
    bench_new_doctors.main([])
    bench_api.main([])
    bench_distributed.main([])
    bench_growth.main([])
    bench_endtoend.main([])
