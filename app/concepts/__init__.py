"""What layers and channels respond to (issue 21): the channel index, the concept breakdown of
one prediction, and TCAV.

- `index`: build_index, write_index, read_index, index_folder, channel_details, crop_path;
- `tap`: which tensor a layer's channels are read from, and each position's receptive field;
- `breakdown`: the channels of a layer carrying one prediction (gradient × activation);
- `tcav`: TCAV through Captum, with its t-test against random-vs-random scores;
- `data`: reference sets (folder, zip, samples, shapes:COUNT) and concept sets (texture:NAME,
  noise:SEED).
"""
