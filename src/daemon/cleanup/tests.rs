use super::*;

#[test]
fn thousands_of_labels_keep_the_summary_small() {
    let labels = (0..2300)
        .map(|i| (format!("label-{i:04}"), (i % 7) as u64 + 1))
        .collect();
    let kept = bounded_labels(labels);
    assert_eq!(kept.len(), MAX_LABELS + 1);
    let total: u64 = kept.values().sum();
    let want: u64 = (0..2300).map(|i| (i % 7) as u64 + 1).sum();
    assert_eq!(total, want, "every event still counted");
    assert!(serde_json::to_string(&kept).unwrap().len() < 8 * 1024);
}
