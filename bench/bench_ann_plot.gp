# bench_ann_plot.gp: one panel per data set, recall@10 (y) against queries/s (x, log scale) of
# single-query searches on one client thread, one curve per system and index type (points:
# the sweep of ef / nprobe; FLAT is one point). Reads the CSV bench_ann writes (columns
# dataset,system,index,param,threads,queries,recall10,qps,...; a curve's rows together, its
# parameter ascending). bench_ann runs it itself when gnuplot is installed; by hand:
#   gnuplot -e "csv='bench_ann.csv'; png='bench_ann.png'" bench/bench_ann_plot.gp
if (!exists("csv")) csv = 'bench_ann.csv'
if (!exists("png")) png = 'bench_ann.png'
if (!exists("datasets")) datasets = 'fmnist fmnist-cos gauss96 clustered'
curves = 'libvdb:HNSW hnswlib:HNSW faiss:HNSW libvdb:IVF_FLAT faiss:IVF_FLAT ' . \
         'libvdb:IVF_SQ8 faiss:IVF_SQ8 libvdb:IVF_PQ faiss:IVF_PQ libvdb:FLAT faiss:FLAT'
# colour by system, point and dash type by index
array colour[11] = ['#d62728', '#2ca02c', '#1f77b4', '#d62728', '#1f77b4', '#d62728', \
                    '#1f77b4', '#d62728', '#1f77b4', '#d62728', '#1f77b4']
array ptype[11] = [7, 7, 7, 5, 5, 9, 9, 11, 11, 13, 13]
array dtype[11] = [1, 1, 1, 2, 2, 3, 3, 4, 4, 1, 1]
n = words(datasets)
cols = (n > 1) ? 2 : 1
rows = (n + cols - 1) / cols
set terminal pngcairo size 900*cols,620*rows noenhanced
set output png
set datafile separator ','
set multiplot layout rows,cols
set key bottom left font ',9'
set grid
set logscale x
set yrange [*:1.005]
set xlabel 'queries/s, 1 client thread, one query per call (log scale)'
set ylabel 'recall@10'
sel(ds, i) = (strcol(1) eq ds && strcol(2).':'.strcol(3) eq word(curves, i) && $5 == 1)
do for [d = 1:n] {
  ds = word(datasets, d)
  set title sprintf('%s: HNSW M=16 efC=200 (ef 16..256), IVF nlist=4*sqrt(n) ' . \
                    '(nprobe 1..128), k=10', ds)
  plot for [i = 1:words(curves)] csv skip 1 \
         using (sel(ds, i) ? $8 : 1/0):(sel(ds, i) ? $7 : 1/0) \
         with linespoints lw 2 lc rgb colour[i] pt ptype[i] dt dtype[i] title word(curves, i)
}
unset multiplot
