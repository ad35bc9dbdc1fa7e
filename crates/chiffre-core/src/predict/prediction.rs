//! What the network read of one input: [`Prediction`], and [`NotANumber`]
//! when its scores were not numbers.

/// The network's class scores were not numbers (NaN) or infinite: its
/// weights or its arithmetic broke down (a model file cannot hold NaN
/// weights, so this is overflow), and there is no digit to report, not even
/// digit 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the network's scores are not numbers (NaN or infinite): its arithmetic overflowed, so no digit can be read")]
pub struct NotANumber;

/// What the network read: the digit, how sure it is, the probability of
/// every class, and the probability that the mark is a digit at all.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The most probable class (the digit, for a 10-class model).
    pub digit: usize,
    /// Its probability, in `[0, 1]`.
    pub confidence: f32,
    /// The probability of each class, if the mark is a digit (softmax of the
    /// network's scores, calibrated when the model has a temperature); they sum to 1.
    pub probabilities: Vec<f32>,
    /// The calibrated probability that the mark is a digit at all, from the
    /// model's "not a digit" gate; 1 when the model has no gate (see
    /// [`crate::Model::reject_threshold`]).
    pub digit_probability: f32,
    /// The gate's probability that the mark is one whole digit, neither a
    /// non-digit nor digits cut wrong (half a digit, two run together): what
    /// the number reader maximises when it cuts touching digits. 1 without a gate.
    pub whole_probability: f32,
}

impl Prediction {
    /// The prediction for one row of class scores (logits): softmax, then the
    /// most probable class (the first one on a tie); `digit_probability` 1.
    /// Scores holding a NaN are an error: there is no most probable class.
    pub fn from_logits(logits: &[f32]) -> Result<Self, NotANumber> {
        Self::from_calibrated_logits(logits, 1.0, 1.0)
    }

    /// As [`Prediction::from_logits`], with the scores divided by
    /// `temperature` first and the given `digit_probability` (a NaN digit
    /// probability is an error too).
    pub fn from_calibrated_logits(
        logits: &[f32],
        temperature: f32,
        digit_probability: f32,
    ) -> Result<Self, NotANumber> {
        // An infinite score is overflow too: its softmax would be NaN.
        if digit_probability.is_nan() || logits.iter().any(|v| !v.is_finite()) {
            return Err(NotANumber);
        }
        let probabilities = crate::reject::calibrate::calibrated(logits, temperature);
        let (digit, confidence) = most_probable(&probabilities);
        let whole_probability = digit_probability;
        Ok(Prediction { digit, confidence: confidence.max(0.0), probabilities, digit_probability, whole_probability })
    }

    /// The judges' probability that the mark is not a digit at all (a letter,
    /// a symbol), rather than one digit or digits cut wrong: from
    /// `digit_probability` = P(digit) / (P(digit) + P(not a digit)) and
    /// `whole_probability` = P(digit). 0 without a gate; 1 when the mark is
    /// surely no digit.
    pub fn not_a_digit_probability(&self) -> f32 {
        if self.digit_probability <= 0.0 {
            return 1.0;
        }
        (self.whole_probability * (1.0 - self.digit_probability) / self.digit_probability).clamp(0.0, 1.0)
    }

    /// True when the mark is read as a digit at `threshold`: its
    /// `digit_probability` is at least `threshold` (0 accepts every mark).
    pub fn is_digit(&self, threshold: f32) -> bool {
        self.digit_probability >= threshold
    }

    /// The prediction of an ensemble: the mean of the members' probabilities
    /// (and digit probabilities), then the most probable class (the first one on a tie). `None` when
    /// `members` is empty or their class counts differ.
    pub fn mean(members: &[Prediction]) -> Option<Self> {
        let classes = members.first()?.probabilities.len();
        if members.iter().any(|m| m.probabilities.len() != classes) {
            return None;
        }
        let mut probabilities = vec![0.0f32; classes];
        let (mut digit_probability, mut whole_probability) = (0.0f32, 0.0f32);
        for m in members {
            probabilities.iter_mut().zip(&m.probabilities).for_each(|(p, q)| *p += q / members.len() as f32);
            digit_probability += m.digit_probability / members.len() as f32;
            whole_probability += m.whole_probability / members.len() as f32;
        }
        let (digit, confidence) = most_probable(&probabilities);
        Some(Prediction { digit, confidence: confidence.max(0.0), probabilities, digit_probability, whole_probability })
    }

    /// The `k` most probable classes as `(class, probability)`, most probable
    /// first (the smaller class first on a tie); fewer when there are fewer classes.
    pub fn top(&self, k: usize) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> = self.probabilities.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

/// The most probable class and its probability (the first one on a tie; 0 for none).
pub(crate) fn most_probable(probabilities: &[f32]) -> (usize, f32) {
    probabilities
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, p)| if p > best.1 { (i, p) } else { best })
}
