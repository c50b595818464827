//! Generate an image and save it: `POST /images/generations`, then download the image from its URL.
//!
//! ```text
//! cargo run --example image -- [--model MODEL] [--out FILE.png] [PROMPT...]
//! ```
//!
//! The URLs SiliconFlow answers with are pre-signed and **expire an hour after generation**, so the
//! example downloads at once. The download sends no API key to the image host. With
//! `SILICONFLOW_API_KEY` set it talks to SiliconFlow; without it, to a built-in offline demo server that
//! paints small gradient PNGs.

mod support;

use std::error::Error;
use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use siliconflow::ImageRequest;

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = support::parse_args_with(
        "image",
        "Kwai-Kolors/Kolors",
        "a red fox in the snow, watercolour",
    );
    let (client, _demo) = support::client_from_env_or_demo()?;

    let request =
        ImageRequest::new(args.model.as_str(), args.prompt.as_str()).image_size("1024x1024");
    let images = client.generate_images(&request)?;
    println!(
        "generated {} image(s), seed {}, inference {}",
        images.urls().count(),
        images.seed.map_or("?".to_string(), |s| s.to_string()),
        images
            .timings
            .inference_duration()
            .map_or("?".to_string(), |d| format!("{d:.2?}")),
    );

    let path = args.out_or("siliconflow-image.png");
    for (i, url) in images.urls().enumerate() {
        // A second image goes next to the first: image.png, image-2.png, …
        let path = if i == 0 {
            path.clone()
        } else {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
            let extension = path.extension().and_then(|s| s.to_str()).unwrap_or("png");
            path.with_file_name(format!("{stem}-{}.{extension}", i + 1))
        };
        let mut file = BufWriter::new(File::create(&path)?);
        let download = client.download_image(url, &mut file)?;
        println!(
            "saved {} ({} bytes, {})",
            path.display(),
            download.bytes,
            download.content_type().unwrap_or("no content type")
        );
    }
    Ok(())
}
