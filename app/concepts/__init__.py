"""What layers and channels respond to (issue 21): the channel index, the concept breakdown of
one prediction, and TCAV.

- `index`: build_index, write_index, read_index, index_folder, channel_details, crop_path;
- `tap`: which tensor a layer's channels are read from, and each position's receptive field.
"""
