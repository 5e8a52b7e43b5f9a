# The toy trainer's "training": a known, smooth function of the hyperparameters in
# params.txt plus seeded Gaussian noise, printed as an autoresearch summary block.
# Its true minimum is loss = 1 at lr 0.01, momentum 0.9, width 128, depth 4, dropout 0.1,
# warmup 200, weight_decay 0.001.
function log10(x) { return log(x) / log(10) }
function log2(x) { return log(x) / log(2) }
function need(name) {
    if (!(name in p)) { print "toy: params.txt has no " name > "/dev/stderr"; exit 2 }
    return p[name] + 0
}
/^[ \t]*#/ || !/=/ { next }
{
    split($0, kv, "=")
    key = kv[1]; gsub(/[ \t]/, "", key)
    value = kv[2]; gsub(/[ \t]/, "", value)
    p[key] = value
}
END {
    lr = need("lr"); mom = need("momentum"); width = need("width"); depth = need("depth")
    dropout = need("dropout"); warmup = need("warmup"); wd = need("weight_decay")
    if (lr <= 0 || width <= 0 || wd <= 0) { print "toy: lr, width and weight_decay must be positive" > "/dev/stderr"; exit 3 }
    truth = 1.0
    truth += 0.5 * log10(lr / 0.01) ^ 2
    truth += 2.0 * (mom - 0.9) ^ 2
    truth += 0.3 * log2(width / 128) ^ 2
    truth += 0.05 * (depth - 4) ^ 2
    truth += 2.0 * (dropout - 0.1) ^ 2
    truth += 0.2 * ((warmup - 200) / 500) ^ 2
    truth += 0.1 * log10(wd / 0.001) ^ 2
    srand(seed)
    u1 = rand(); u2 = rand()
    if (u1 < 1e-12) u1 = 1e-12
    noise = sigma * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2)
    print "---"
    printf "loss: %.6f\n", truth + noise
    printf "true_loss: %.6f\n", truth
    printf "noise_sigma: %g\n", sigma
    printf "training_seconds: 0.0\n"
}
