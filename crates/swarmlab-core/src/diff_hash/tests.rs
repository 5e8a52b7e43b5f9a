use super::*;

const DIFF: &str = "\
diff --git a/src/train.rs b/src/train.rs
index 1111111..2222222 100644
--- a/src/train.rs
+++ b/src/train.rs
@@ -10,7 +10,7 @@ fn main() {
     let x = 1;
-const LR: f64 = 0.002;
+const LR: f64 = 0.003;
     let y = 2;
";

#[test]
fn diff_hash_ignores_headers_context_and_whitespace() {
    let moved = DIFF
        .replace("index 1111111..2222222", "index abcdef0..1234567")
        .replace("@@ -10,7 +10,7 @@ fn main() {", "@@ -40,7 +40,7 @@")
        .replace("     let x = 1;", "     let other = 0;")
        .replace("+const LR: f64 = 0.003;", "+const LR:  f64 =  0.003;   ");
    assert_eq!(normalised_diff_hash(DIFF), normalised_diff_hash(&moved));
    let with_blank_line = DIFF.replace("     let y = 2;\n", "+\n+   \n     let y = 2;\n");
    assert_eq!(
        normalised_diff_hash(DIFF),
        normalised_diff_hash(&with_blank_line)
    );
}

#[test]
fn diff_hash_sees_real_changes_and_the_file() {
    let other_value = DIFF.replace("0.003", "0.004");
    assert_ne!(
        normalised_diff_hash(DIFF),
        normalised_diff_hash(&other_value)
    );
    let other_file = DIFF.replace("src/train.rs", "src/model.rs");
    assert_ne!(
        normalised_diff_hash(DIFF),
        normalised_diff_hash(&other_file)
    );
    let reverted = DIFF
        .replace("-const LR: f64 = 0.002;", "-const LR: f64 = 0.003;")
        .replace("+const LR: f64 = 0.003;", "+const LR: f64 = 0.002;");
    assert_ne!(normalised_diff_hash(DIFF), normalised_diff_hash(&reverted));
}

#[test]
fn diff_hash_is_stable_across_releases() {
    // FNV-1a is fixed: stored hashes must keep meaning the same diff.
    assert_eq!(diff_hash_hex(normalised_diff_hash("")), "cbf29ce484222325");
    assert_eq!(diff_hash_hex(normalised_diff_hash(DIFF)).len(), 16);
}
