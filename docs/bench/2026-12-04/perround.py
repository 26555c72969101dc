import csv, collections, sys
rows=[r for r in csv.DictReader(open(sys.argv[1]),delimiter='\t') if r['label'] in('ringtgt-old','ringtgt-new')]
d=collections.defaultdict(dict)
for r in rows: d[(r['cell'],r['round'])][r['label']]=r
cells=[c for c in ['rr4k_qd1','rr4k_qd32','rw4k_qd1','rw4k_qd32','sr128k_qd8','sw128k_qd8','rr4k_qd32q'] if any(k[0]==c for k in d)]
rounds=sorted({k[1] for k in d})
print('cell\t'+'\t'.join(f'r{x} IOPS new/old\tr{x} CPU/IO new/old' for x in rounds))
for c in cells:
    out=[]
    for rd in rounds:
        o=d[(c,rd)]['ringtgt-old']; n=d[(c,rd)]['ringtgt-new']
        out.append(f"{float(n['iops'])/float(o['iops']):.2f}\t{float(n['tgt_cpu_s_per100k'])/float(o['tgt_cpu_s_per100k']):.2f}")
    print(c+'\t'+'\t'.join(out))
