//! `chiffre tutorial`: the tutorial's worked example (an "X", three
//! features, feature maps, ReLU, max-pooling, flattening), printed with two
//! decimals; then a tiny CNN learns to tell X from O.

use crate::tutorial;

/// Arguments of `chiffre tutorial`.
#[derive(clap::Args, Debug)]
pub struct TutorialArgs {
    /// Use the X drawn a little differently (lower half shifted, centre thicker).
    #[arg(long)]
    variant: bool,
    /// Skip training the tiny X-or-O network.
    #[arg(long)]
    no_training: bool,
}

/// Prints the worked example.
pub fn run(args: TutorialArgs) -> anyhow::Result<()> {
    let image = if args.variant { tutorial::x_variant() } else { tutorial::x_image() };
    print!("{}", tutorial::worked_example(&image).format());
    if !args.no_training {
        let r = tutorial::train_x_or_o(1);
        println!(
            "\nA tiny CNN with the same layers (3 filters 3×3 → ReLU → 2×2 max-pooling → flatten → 2 outputs),\n\
             trained on 400 shifted, rotated, scaled and thickened X's and O's (loss {:.3} → {:.3}),\n\
             reads {:.0} % of {} fresh ones right. Its learned filters:",
            r.loss.0,
            r.loss.1,
            100.0 * r.accuracy,
            r.tested
        );
        for (i, f) in r.filters.iter().enumerate() {
            println!("\nFilter {}:\n{}", i + 1, f.format().trim_end());
        }
    }
    Ok(())
}
