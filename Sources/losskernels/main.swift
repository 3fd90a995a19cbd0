import LossKernels
let e = try Engine(policy: .opencl)
let m = try Matrix(rows: 3, columns: 5, values: [1,2,3,4,5, -Float.infinity,0,1,2,3, 100,200,300,-300,0])
print(try e.softmax(m).values)
print(try Engine(policy: .cpu).softmax(m).values)
print(try e.logSumExp(m), try Engine(policy: .cpu).logSumExp(m))
print(try e.reduce(.argmax, m, over: .rows), try Engine(policy: .cpu).reduce(.argmax, m, over: .rows))
