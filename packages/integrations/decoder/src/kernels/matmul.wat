;; y[rows, outDim] = x[rows, n] · w[outDim, n]ᵀ in f32 with WebAssembly SIMD (f32x4).
;; All pointers are byte offsets into the imported memory; n must be a multiple of 4.
;; Register tile: 4 weight rows × 2 input rows (8 f32x4 accumulators); a 4 × 1 tile for an odd
;; last row; one dot product per output for outDim % 4 leftovers.
;; Source of matmul-wasm.generated.ts (rebuild: node scripts/build-wasm.mjs).
(module
  (import "env" "memory" (memory 1))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; one output: dot of rows a and b (rb bytes each)
  (func $dot (param $a i32) (param $b i32) (param $rb i32) (result f32)
    (local $acc v128) (local $k i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $k) (local.get $rb)))
            (local.set $acc (f32x4.add (local.get $acc)
          (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $k))) (v128.load (i32.add (local.get $b) (local.get $k))))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $l)))
    (call $hsum (local.get $acc)))

  ;; four outputs y[0..3] of one input row x against weight rows w0..w3
  (func $dot4 (param $x i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $rb i32) (param $y i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $v v128) (local $k i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $k) (local.get $rb)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $k))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $w0) (local.get $k))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $w1) (local.get $k))))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $w2) (local.get $k))))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $w3) (local.get $k))))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $l)))
    (f32.store offset=0 (local.get $y) (call $hsum (local.get $a0)))
    (f32.store offset=4 (local.get $y) (call $hsum (local.get $a1)))
    (f32.store offset=8 (local.get $y) (call $hsum (local.get $a2)))
    (f32.store offset=12 (local.get $y) (call $hsum (local.get $a3))))

  (func (export "matmul") (param $x i32) (param $rows i32) (param $w i32) (param $n i32) (param $outDim i32) (param $y i32)
    (local $o i32) (local $r i32) (local $k i32) (local $rb i32) (local $yrow i32) (local $yp i32)
    (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $x0 i32) (local $x1 i32)
    (local $a00 v128) (local $a01 v128) (local $a02 v128) (local $a03 v128) (local $a10 v128) (local $a11 v128) (local $a12 v128) (local $a13 v128)
    (local $v0 v128) (local $v1 v128) (local $c v128)
    (local.set $rb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $yrow (i32.shl (local.get $outDim) (i32.const 2)))
    (block $oend
      (loop $oloop
        (br_if $oend (i32.gt_u (i32.add (local.get $o) (i32.const 4)) (local.get $outDim)))
        (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $rb))))
        (local.set $w1 (i32.add (local.get $w0) (local.get $rb)))
        (local.set $w2 (i32.add (local.get $w1) (local.get $rb)))
        (local.set $w3 (i32.add (local.get $w2) (local.get $rb)))
        (local.set $r (i32.const 0))
        (block $rend
          (loop $rloop
            (br_if $rend (i32.gt_u (i32.add (local.get $r) (i32.const 2)) (local.get $rows)))
            (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rb))))
            (local.set $x1 (i32.add (local.get $x0) (local.get $rb)))
            (local.set $a00 (v128.const i32x4 0 0 0 0))
            (local.set $a01 (v128.const i32x4 0 0 0 0))
            (local.set $a02 (v128.const i32x4 0 0 0 0))
            (local.set $a03 (v128.const i32x4 0 0 0 0))
            (local.set $a10 (v128.const i32x4 0 0 0 0))
            (local.set $a11 (v128.const i32x4 0 0 0 0))
            (local.set $a12 (v128.const i32x4 0 0 0 0))
            (local.set $a13 (v128.const i32x4 0 0 0 0))
            (local.set $k (i32.const 0))
            (block $kend
              (loop $kloop
                (br_if $kend (i32.ge_u (local.get $k) (local.get $rb)))
                (local.set $v0 (v128.load (i32.add (local.get $x0) (local.get $k))))
                (local.set $v1 (v128.load (i32.add (local.get $x1) (local.get $k))))
                (local.set $c (v128.load (i32.add (local.get $w0) (local.get $k))))
                (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $v0) (local.get $c))))
                (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $v1) (local.get $c))))
                (local.set $c (v128.load (i32.add (local.get $w1) (local.get $k))))
                (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $v0) (local.get $c))))
                (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $v1) (local.get $c))))
                (local.set $c (v128.load (i32.add (local.get $w2) (local.get $k))))
                (local.set $a02 (f32x4.add (local.get $a02) (f32x4.mul (local.get $v0) (local.get $c))))
                (local.set $a12 (f32x4.add (local.get $a12) (f32x4.mul (local.get $v1) (local.get $c))))
                (local.set $c (v128.load (i32.add (local.get $w3) (local.get $k))))
                (local.set $a03 (f32x4.add (local.get $a03) (f32x4.mul (local.get $v0) (local.get $c))))
                (local.set $a13 (f32x4.add (local.get $a13) (f32x4.mul (local.get $v1) (local.get $c))))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $kloop)))
            (local.set $yp (i32.add (local.get $y)
              (i32.shl (i32.add (i32.mul (local.get $r) (local.get $outDim)) (local.get $o)) (i32.const 2))))
            (f32.store offset=0 (local.get $yp) (call $hsum (local.get $a00)))
            (f32.store offset=4 (local.get $yp) (call $hsum (local.get $a01)))
            (f32.store offset=8 (local.get $yp) (call $hsum (local.get $a02)))
            (f32.store offset=12 (local.get $yp) (call $hsum (local.get $a03)))
            (local.set $yp (i32.add (local.get $yp) (local.get $yrow)))
            (f32.store offset=0 (local.get $yp) (call $hsum (local.get $a10)))
            (f32.store offset=4 (local.get $yp) (call $hsum (local.get $a11)))
            (f32.store offset=8 (local.get $yp) (call $hsum (local.get $a12)))
            (f32.store offset=12 (local.get $yp) (call $hsum (local.get $a13)))
            (local.set $r (i32.add (local.get $r) (i32.const 2)))
            (br $rloop)))
        (if (i32.lt_u (local.get $r) (local.get $rows))
          (then
            (call $dot4
              (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rb)))
              (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $rb)
              (i32.add (local.get $y)
                (i32.shl (i32.add (i32.mul (local.get $r) (local.get $outDim)) (local.get $o)) (i32.const 2))))))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $oloop)))
    (block $o2end
      (loop $o2loop
        (br_if $o2end (i32.ge_u (local.get $o) (local.get $outDim)))
        (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $rb))))
        (local.set $r (i32.const 0))
        (block $r2end
          (loop $r2loop
            (br_if $r2end (i32.ge_u (local.get $r) (local.get $rows)))
            (f32.store
              (i32.add (local.get $y)
                (i32.shl (i32.add (i32.mul (local.get $r) (local.get $outDim)) (local.get $o)) (i32.const 2)))
              (call $dot (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rb))) (local.get $w0) (local.get $rb)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $r2loop)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $o2loop))))
)
