//! Plain, obviously-correct versions of the kernels, for tests only: the
//! optimised kernels are checked against these on random shapes.

use super::{ConvGeometry, PoolGeometry};

/// `c[m×n] = a[m×k] · b[k×n]`, triple loop.
pub fn matmul(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += a[i * k + p] as f64 * b[p * n + j] as f64;
            }
            c[i * n + j] = s as f32;
        }
    }
    c
}

/// The `(input index, weight index)` pairs that output pixel `(b, oy, ox)`
/// of filter `o` multiplies and sums, by the definition: every tap of the
/// window that falls inside the image, every channel.
fn window_pairs(
    g: &ConvGeometry,
    b: usize,
    oy: usize,
    ox: usize,
    o: usize,
) -> impl Iterator<Item = (usize, usize)> + '_ {
    let taps = (0..g.k).flat_map(move |ky| (0..g.k).map(move |kx| (ky, kx)));
    let inside = taps.filter_map(move |(ky, kx)| {
        let iy = (oy * g.stride + ky) as isize - g.pad_top as isize;
        let ix = (ox * g.stride + kx) as isize - g.pad_left as isize;
        (iy >= 0 && ix >= 0 && iy < g.h as isize && ix < g.w as isize).then_some((ky, kx, iy as usize, ix as usize))
    });
    inside.flat_map(move |(ky, kx, iy, ix)| {
        (0..g.c).map(move |c| (((b * g.h + iy) * g.w + ix) * g.c + c, ((o * g.k + ky) * g.k + kx) * g.c + c))
    })
}

/// `c [m × n] = a [m × k] · w [n × k]ᵀ` in integers: the plain twin of
/// [`super::matmul_i8`] (`a` unpadded).
pub fn matmul_u8_i8(a: &[u8], w: &[i8], m: usize, k: usize, n: usize) -> Vec<i32> {
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|t| i32::from(a[i * k + t]) * i32::from(w[j * k + t])).sum();
        }
    }
    c
}

/// Direct convolution: `x [B, H, W, C]`, `weight [OC, k, k, C]`, `bias [OC]`
/// → `[B, OH, OW, OC]`, by the definition (sum over the window).
pub fn conv2d(x: &[f32], weight: &[f32], bias: &[f32], g: &ConvGeometry, batch: usize) -> Vec<f32> {
    let oc = bias.len();
    let mut y = vec![0.0; batch * g.oh * g.ow * oc];
    for b in 0..batch {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                for o in 0..oc {
                    let sum: f64 = window_pairs(g, b, oy, ox, o).map(|(xi, wi)| x[xi] as f64 * weight[wi] as f64).sum();
                    y[((b * g.oh + oy) * g.ow + ox) * oc + o] = (bias[o] as f64 + sum) as f32;
                }
            }
        }
    }
    y
}

/// Convolution backward by the definition, from `x`, `weight` and `dy`:
/// `(dweight [OC, k, k, C], dbias [OC], dx [B, H, W, C])`.
pub fn conv2d_backward(
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    g: &ConvGeometry,
    batch: usize,
    oc: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut dw = vec![0.0f64; weight.len()];
    let mut db = vec![0.0f64; oc];
    let mut dx = vec![0.0f64; x.len()];
    for b in 0..batch {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                for o in 0..oc {
                    let d = dy[((b * g.oh + oy) * g.ow + ox) * oc + o] as f64;
                    db[o] += d;
                    for (xi, wi) in window_pairs(g, b, oy, ox, o) {
                        dw[wi] += d * x[xi] as f64;
                        dx[xi] += d * weight[wi] as f64;
                    }
                }
            }
        }
    }
    let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (f(dw), f(db), f(dx))
}

/// Pooling by the definition: the max (or mean) of each window.
pub fn pool(x: &[f32], g: &PoolGeometry, batch: usize, max: bool) -> Vec<f32> {
    let mut y = Vec::with_capacity(batch * g.oh * g.ow * g.c);
    for b in 0..batch {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                for c in 0..g.c {
                    let window = (0..g.size).flat_map(|wy| {
                        (0..g.size)
                            .map(move |wx| x[((b * g.h + oy * g.stride + wy) * g.w + ox * g.stride + wx) * g.c + c])
                    });
                    y.push(if max {
                        window.fold(f32::NEG_INFINITY, f32::max)
                    } else {
                        window.sum::<f32>() / (g.size * g.size) as f32
                    });
                }
            }
        }
    }
    y
}

/// Max-pool backward by the definition: each output gradient goes to the
/// first position of its window holding the maximum.
pub fn max_pool_backward(x: &[f32], dy: &[f32], g: &PoolGeometry, batch: usize) -> Vec<f32> {
    let mut dx = vec![0.0; x.len()];
    let mut o = 0;
    for b in 0..batch {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                for c in 0..g.c {
                    let mut best = (f32::NEG_INFINITY, 0);
                    for wy in 0..g.size {
                        for wx in 0..g.size {
                            let at = ((b * g.h + oy * g.stride + wy) * g.w + ox * g.stride + wx) * g.c + c;
                            if x[at] > best.0 {
                                best = (x[at], at);
                            }
                        }
                    }
                    dx[best.1] += dy[o];
                    o += 1;
                }
            }
        }
    }
    dx
}
